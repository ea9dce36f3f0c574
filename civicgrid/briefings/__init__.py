"""Briefings (简报: 日报, 周报, 月报): what a briefing says, assembled from the statistics,
evaluation and map services into a plain structure (``content``), and that structure drawn
as charts (``charts``), an HTML page (``html``), an A4 PDF (``pdf``) or a workbook (``xlsx``)."""

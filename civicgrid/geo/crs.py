"""Coordinate systems at the edges: Chinese web maps give GCJ-02 (高德, 腾讯) or BD-09
(百度); inside civicgrid every point is WGS-84. Points outside China are not shifted."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from civicgrid.domain.vocabulary import CoordinateSystem

# Krasovsky 1940 ellipsoid, which the GCJ-02 shift is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_FACTOR = math.pi * 3000.0 / 180.0


def out_of_china(lng: float, lat: float) -> bool:
    """Whether the point lies outside the box where GCJ-02 shifts coordinates."""
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift(lng: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 offset (degrees) of a WGS-84 point."""
    x, y = lng - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d_lat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    d_lng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lng += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d_lng += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d_lng += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    d_lng = (d_lng * 180.0) / (_A / math.sqrt(magic) * math.cos(rad_lat) * math.pi)
    return d_lng, d_lat


def wgs84_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """WGS-84 → GCJ-02."""
    if out_of_china(lng, lat):
        return lng, lat
    d_lng, d_lat = _shift(lng, lat)
    return lng + d_lng, lat + d_lat


def gcj02_to_wgs84(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS-84, by iteration to well under a centimetre (the shift has no closed inverse)."""
    if out_of_china(lng, lat):
        return lng, lat
    guess_lng, guess_lat = lng, lat
    for _ in range(30):
        shifted_lng, shifted_lat = wgs84_to_gcj02(guess_lng, guess_lat)
        error_lng, error_lat = shifted_lng - lng, shifted_lat - lat
        guess_lng, guess_lat = guess_lng - error_lng, guess_lat - error_lat
        if abs(error_lng) < 1e-10 and abs(error_lat) < 1e-10:
            break
    return guess_lng, guess_lat


def gcj02_to_bd09(lng: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (Baidu)."""
    z = math.sqrt(lng * lng + lat * lat) + 0.00002 * math.sin(lat * _BD_FACTOR)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _BD_FACTOR)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lng: float, lat: float) -> tuple[float, float]:
    """BD-09 (Baidu) → GCJ-02: the published closed form (off by up to 2e-6 degrees, some
    20 cm), then refined by iteration on the forward formula to well under a centimetre."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _BD_FACTOR)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_FACTOR)
    guess_lng, guess_lat = z * math.cos(theta), z * math.sin(theta)
    for _ in range(10):
        shifted_lng, shifted_lat = gcj02_to_bd09(guess_lng, guess_lat)
        error_lng, error_lat = shifted_lng - lng, shifted_lat - lat
        guess_lng, guess_lat = guess_lng - error_lng, guess_lat - error_lat
        if abs(error_lng) < 1e-10 and abs(error_lat) < 1e-10:
            break
    return guess_lng, guess_lat


def bd09_to_gcj02_published(lng: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02 by the published closed form alone (what other converters answer)."""
    x, y = lng - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _BD_FACTOR)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_FACTOR)
    return z * math.cos(theta), z * math.sin(theta)


def to_wgs84(lng: float, lat: float, system: CoordinateSystem) -> tuple[float, float]:
    """A point given in ``system``, as WGS-84."""
    if system is CoordinateSystem.GCJ02:
        return gcj02_to_wgs84(lng, lat)
    if system is CoordinateSystem.BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lng, lat))
    return lng, lat


def from_wgs84(lng: float, lat: float, system: CoordinateSystem) -> tuple[float, float]:
    """A WGS-84 point, written in ``system``."""
    if system is CoordinateSystem.GCJ02:
        return wgs84_to_gcj02(lng, lat)
    if system is CoordinateSystem.BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lng, lat))
    return lng, lat


def from_wgs84_array(coords: NDArray[np.float64], system: CoordinateSystem) -> NDArray[np.float64]:
    """An n × 2 array of WGS-84 (lng, lat), written in ``system``, vectorised (for the
    vertices of map polygons; ``shapely.transform`` passes them this way)."""
    if system is CoordinateSystem.WGS84:
        return coords
    lng, lat = coords[:, 0], coords[:, 1]
    x, y = lng - 105.0, lat - 35.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lng += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lng += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lng += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad_lat) ** 2
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * np.sqrt(magic)) * np.pi)
    d_lng = (d_lng * 180.0) / (_A / np.sqrt(magic) * np.cos(rad_lat) * np.pi)
    outside = ~((lng >= 72.004) & (lng <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))
    gcj_lng = np.where(outside, lng, lng + d_lng)
    gcj_lat = np.where(outside, lat, lat + d_lat)
    if system is CoordinateSystem.GCJ02:
        return np.column_stack((gcj_lng, gcj_lat))
    z = np.sqrt(gcj_lng**2 + gcj_lat**2) + 0.00002 * np.sin(gcj_lat * _BD_FACTOR)
    theta = np.arctan2(gcj_lat, gcj_lng) + 0.000003 * np.cos(gcj_lng * _BD_FACTOR)
    return np.column_stack((z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006))

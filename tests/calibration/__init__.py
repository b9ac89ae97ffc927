"""Tests of clinisynth.calibration."""

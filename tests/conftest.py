"""Fixture modules shared by the whole suite (indico's testing/fixtures layout)."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.label_studio",
    "tests.fixtures.db",
    "tests.fixtures.browser",
    "tests.fixtures.ml_media",
    "tests.fixtures.web",
    "tests.fixtures.platform",
]

"""The URL-map table the gateway tests iterate is complete, instantiable and reaches the routes it names."""

from __future__ import annotations

import pytest

from medlabel.settings import PROJECT_ROOT
from tests.fixtures.ls_routes import LsRoute, example_path, label_studio_routes
from tests.fixtures.services import require

LS_VENV = PROJECT_ROOT / ".ls-venv"

#: What the labeling page (and the physician's session around it) calls, with pk=5.
LABELING_PAGE_PATHS = {
    "/api/projects/5/",
    "/api/tasks/5/",
    "/api/tasks/5/annotations/",
    "/api/annotations/5/",
    "/api/dm/actions/",
    "/data/local-files/",
    "/api/projects/5/export",
    "/api/users/",
    "/api/invite",
}


@pytest.fixture(scope="module")
def routes() -> list[LsRoute]:
    require((LS_VENV / "bin" / "label-studio").exists(), f"Label Studio is not installed in {LS_VENV}")
    return label_studio_routes(LS_VENV / "bin" / "python")


def by_name(routes: list[LsRoute], name: str) -> LsRoute:
    return next(r for r in routes if r.name == name and r.problem is None)


def test_the_map_is_non_trivial(routes: list[LsRoute]) -> None:
    assert len(routes) > 100
    assert all(r.methods and r.view and r.regexes for r in routes)


def test_it_holds_the_routes_a_labeling_page_uses(routes: list[LsRoute]) -> None:
    reachable = {example_path(r, {"pk": 5}) for r in routes if r.problem is None}
    assert LABELING_PAGE_PATHS <= reachable
    assert {"PATCH", "DELETE"} <= set(by_name(routes, "projects:api:project-detail").methods)
    assert "POST" in by_name(routes, "tasks:api:task-annotations").methods
    assert by_name(routes, "storages:localfiles_data").methods == ("GET", "OPTIONS")  # @api_view(['GET'])


def test_every_example_resolves_to_its_own_route_but_for_known_shadows(routes: list[LsRoute]) -> None:
    """Django resolved each example in the subprocess; only genuinely unreachable routes may miss.

    Those are the root views DRF's DefaultRouter adds again for every later router, and whatever contains
    "version/": core/urls.py's unanchored re_path(r"version/") is searched, not anchored, so it swallows
    /api/version/ and the whole admin of ml_models.ThirdPartyModelVersion.
    """
    assert all(r.example.startswith("/") for r in routes)
    for route in routes:
        if route.problem is None:
            continue
        assert route.problem.startswith("resolves to earlier route"), (route.pattern, route.problem)
        duplicate_root = route.view == "rest_framework.routers.APIRootView"
        assert duplicate_root or "version/" in route.example, (route.pattern, route.problem)


def test_examples_take_the_callers_ids_and_refuse_ones_that_do_not_fit(routes: list[LsRoute]) -> None:
    assert example_path(by_name(routes, "projects:api:project-detail"), {"pk": 42}) == "/api/projects/42/"
    assert example_path(by_name(routes, "user-detail"), {"pk": 7}) == "/api/users/7/"  # a re_path route
    static = next(r for r in routes if r.pattern == "static/(?P<path>.*)$")
    assert example_path(static, {"path": "js/main.js"}) == "/static/js/main.js"
    with pytest.raises(ValueError, match="does not fit"):
        example_path(by_name(routes, "projects:api:project-detail"), {"pk": "abc"})


@pytest.mark.parametrize(
    ("regexes", "ids", "expected"),
    [
        ((r"^", r"^api/", r"^users/(?P<pk>[^/.]+)/$"), {"pk": 9}, "/api/users/9/"),  # include() levels
        ((r"^a/(\d+)/(?:b|c)?(?P<x>[^/]+)$",), {}, "/a/1/x"),  # unnamed group, optional part left out
        ((r"^files/(?P<name>[\w.-]+)\.(?P<ext>png|jpe?g)$",), {"ext": "jpeg"}, "/files/x.jpeg"),
        ((r"^(?P<y>[0-9]{4})-(?P<m>0[1-9]|1[0-2])/(?P=y)$",), {"y": 2024}, "/2024-01/2024"),  # back-reference
        ((r"^stats.json/(?P<token>[\w]+)?/?$",), {}, "/stats.json/x"),  # optional parameter kept, "." kept
        ((r"^static/(?P<path>.*)$",), {}, "/static/x"),
        ((r"^api/", r"^views\.(?P<format>[a-z0-9]+)/?$"), {}, "/api/views.json"),
    ],
)
def test_regex_patterns_are_instantiated(
    regexes: tuple[str, ...], ids: dict[str, int], expected: str
) -> None:
    """Pure regex work, no Label Studio needed: groups, classes, repeats, alternations, anchors."""
    route = LsRoute(pattern="", name=None, view="v", methods=("GET",), regexes=regexes)
    assert example_path(route, ids) == expected

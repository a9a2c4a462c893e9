"""The local double is layered the way moto is, and stands apart from the launcher it checks:

- it imports, of the launcher, only the service-model validator (with the service's rules
  for a transform's filters and AWS's naming rules for identifiers), the pure S3 URI and
  listing helpers, the pipeline format reader, the error types (the exit contract) and the
  Docker CLI wrapper; never the launcher's
  settings, requests or commands, whose mistakes it must be able to catch. Beyond that: the
  standard library, botocore, mpg_core;
- inside it, the boto3-shaped clients use the engine and the state, the engine uses the state,
  and the state uses neither;
- outside it, only the module that picks the clients imports it.
"""

from __future__ import annotations

import sys

from tests.helpers.imports import import_graph, imported_names, our_modules

LOCAL = "mpg_launch.local"
# What the double may use of the launcher, and why: see the module docstring.
LAUNCHER_PARTS_THE_DOUBLE_USES = {
    "mpg_launch.aws.validation",
    "mpg_launch.aws.transform_rules",
    "mpg_launch.aws.identifiers",
    "mpg_launch.aws.jsonpath",
    "mpg_launch.aws.s3",
    "mpg_launch.pipeline.format",
    "mpg_launch.errors",
    "mpg_launch.images.docker",
}
OTHER_LIBRARIES_THE_DOUBLE_USES = {"botocore", "mpg_core"}
# The one place that picks the local clients (and prints a local endpoint's logs).
PICKS_THE_CLIENTS = "mpg_launch.cli.clients"


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_double_imports_only_the_validator_the_format_reader_and_errors() -> None:
    graph = import_graph()
    found = {
        (module, target)
        for module, targets in graph.items()
        if _in(module, LOCAL)
        for target in targets
        if _in(target, "mpg_launch")
        and not _in(target, LOCAL)
        and target != "mpg_launch"
        and target not in LAUNCHER_PARTS_THE_DOUBLE_USES
    }
    assert sorted(found) == []


def test_what_the_double_uses_of_the_launcher_uses_nothing_else_of_it() -> None:
    """The allowed parts must not pull the launcher's options in behind the test's back."""
    graph = import_graph()
    reached = set(LAUNCHER_PARTS_THE_DOUBLE_USES)
    todo = list(reached)
    while todo:
        for target in graph[todo.pop()]:
            if _in(target, "mpg_launch") and target not in reached:
                reached.add(target)
                todo.append(target)
    packages = {"mpg_launch", "mpg_launch.aws", "mpg_launch.pipeline", "mpg_launch.images"}
    assert sorted(reached - LAUNCHER_PARTS_THE_DOUBLE_USES - packages) == []


def test_the_double_uses_only_the_standard_library_botocore_and_mpg_core() -> None:
    modules = our_modules()
    found = set()
    for module, path in modules.items():
        if not _in(module, LOCAL):
            continue
        for base, _ in imported_names(path, module):
            top = base.split(".")[0]
            if top in sys.stdlib_module_names or top == "mpg_launch":
                continue
            if top not in OTHER_LIBRARIES_THE_DOUBLE_USES:
                found.add((module, base))
    assert sorted(found) == []


def test_the_double_is_layered_clients_engine_state() -> None:
    graph = import_graph()
    wrong = set()
    for module, targets in graph.items():
        for target in targets:
            if _in(module, f"{LOCAL}.engine") and _in(target, f"{LOCAL}.clients"):
                wrong.add((module, target))  # the engine never calls the surface
            if module == f"{LOCAL}.state" and _in(target, LOCAL) and target != LOCAL:
                wrong.add((module, target))  # the state knows no one
    assert sorted(wrong) == []


def test_only_the_client_picker_imports_the_double() -> None:
    graph = import_graph()
    importers = {
        module
        for module, targets in graph.items()
        if not _in(module, LOCAL) and any(_in(t, LOCAL) for t in targets)
    }
    assert importers == {PICKS_THE_CLIENTS}


def test_the_layer_rules_see_the_double() -> None:
    """The walk finds the double's three layers, so the tests above cannot pass vacuously."""
    graph = import_graph()
    assert f"{LOCAL}.state" in graph[f"{LOCAL}.clients.cloudwatch"]
    assert f"{LOCAL}.engine.containers" in graph[f"{LOCAL}.engine.jobs"]
    assert f"{LOCAL}.clients.sagemaker" in graph[PICKS_THE_CLIENTS]

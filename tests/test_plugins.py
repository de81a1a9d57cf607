"""Plugin loading through entry points, registration, conflicts and dispatch."""

from __future__ import annotations

import subprocess
import sys

import pytest
from auditbridge import EventData, Mapper, hookimpl
from auditbridge.errors import ConfigurationError, PluginConflictError, UnknownSourceError
from auditbridge.plugins import Distribution, MapperRegistry, PluginManager


def never_called(event, context) -> EventData:
    raise AssertionError("not called in these tests")


def mapper(name: str, *sources: str) -> Mapper:
    return Mapper(name=name, sources=sources, map_event=never_called)


class Plugin:
    def __init__(self, *mappers: Mapper) -> None:
        self.mappers = mappers

    @hookimpl
    def register_mappers(self, register):
        for item in self.mappers:
            register(item)


def test_builtin_okta_is_found_through_its_entry_point_like_any_plugin():
    manager = PluginManager()
    manager.load_entry_points()
    found = {entry.name: entry for entry in manager.mapper_registry()}
    assert found["okta"].distribution.name == "auditbridge-okta"
    assert found["okta"].mapper.sources == ("aws.partner/okta.com/*",)


def test_loading_can_be_restricted_to_named_entry_points():
    manager = PluginManager()
    manager.load_entry_points(only=[])
    assert len(manager.mapper_registry()) == 0


def test_two_plugins_claiming_a_source_fail_at_load_time_naming_both_distributions():
    manager = PluginManager()
    manager.register(
        Plugin(mapper("okta", "aws.partner/okta.com/*")), name="a", distribution=Distribution("first-dist", "1.0")
    )
    manager.register(
        Plugin(mapper("okta2", "aws.partner/okta.com/*")), name="b", distribution=Distribution("second-dist", "2.0")
    )
    with pytest.raises(PluginConflictError) as info:
        manager.mapper_registry()
    message = str(info.value)
    assert "first-dist 1.0" in message
    assert "second-dist 2.0" in message
    assert "aws.partner/okta.com/*" in message


def test_two_mappers_with_one_name_conflict():
    registry = MapperRegistry()
    registry.register(mapper("same", "a.b"), Distribution("one", "1"))
    with pytest.raises(PluginConflictError, match="two mappers are named 'same'"):
        registry.register(mapper("same", "c.d"), Distribution("two", "1"))


def test_a_misspelt_hook_fails_at_load_time():
    class Misspelt:
        @hookimpl
        def register_mapper(self, register):  # missing "s"
            pass

    with pytest.raises(Exception, match="register_mapper"):
        PluginManager().register(Misspelt(), name="misspelt")


def test_registering_something_that_is_not_a_mapper_is_refused():
    class Wrong:
        @hookimpl
        def register_mappers(self, register):
            register({"name": "not a mapper"})

    manager = PluginManager()
    manager.register(Wrong(), name="wrong", distribution=Distribution("wrong-dist", "0.1"))
    with pytest.raises(ConfigurationError, match="wrong-dist"):
        manager.mapper_registry()


def test_the_most_specific_claim_wins():
    registry = MapperRegistry()
    registry.register(mapper("broad", "aws.partner/*"))
    registry.register(mapper("okta", "aws.partner/okta.com/*"))
    registry.register(mapper("one_stream", "aws.partner/okta.com/acme/special"))
    assert registry.resolve("aws.partner/okta.com/acme/special").name == "one_stream"
    assert registry.resolve("aws.partner/okta.com/acme/other").name == "okta"
    assert registry.resolve("aws.partner/auth0.com/x").name == "broad"


def test_an_unknown_source_is_a_permanent_error_naming_the_source():
    registry = MapperRegistry()
    registry.register(mapper("okta", "aws.partner/okta.com/*"))
    with pytest.raises(UnknownSourceError) as info:
        registry.resolve("aws.partner/okta.co/x")
    assert info.value.source == "aws.partner/okta.co/x"
    assert "auditbridge plugins" in str(info.value)


@pytest.mark.parametrize("sources", [(), ("a*b",), ("*",), ("two words",)])
def test_invalid_source_patterns_are_refused(sources):
    with pytest.raises(ValueError, match="source"):
        Mapper(name="bad", sources=sources, map_event=never_called)


def test_a_broken_plugin_import_is_a_configuration_error(tmp_path, monkeypatch):
    package = tmp_path / "broken_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('boom')\n")
    dist = tmp_path / "broken_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[auditbridge]\nbroken = broken_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError, match=r"plugin 'broken'.*failed to import.*boom"):
        PluginManager().load_entry_points()


def test_plugins_load_once_per_process():
    code = (
        "from auditbridge.plugins import get_mapper_registry, get_plugin_manager\n"
        "assert get_mapper_registry() is get_mapper_registry()\n"
        "assert get_plugin_manager() is get_plugin_manager()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

"""The plugin contract kit and test helpers for mapper authors.

In a plugin's test suite::

    from pathlib import Path
    from auditbridge.testing import mapper_contract_tests

    TestOktaContract = mapper_contract_tests("okta", Path(__file__).parent / "fixtures")

gives the standard suite, one test per check and fixture. The same checks run from the
CLI: ``auditbridge plugins check okta --events tests/fixtures``. The pytest plugin also
provides fixtures for tests over real HTTP: ``auditbridge_moto_server`` (a moto server
on loopback), ``auditbridge_aws`` (the environment pointing boto3 at it) and
``auditbridge_cloudtrail_data`` (the loopback PutAuditEvents endpoint).

Importing this module is cheap: pytest loads it in every session.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditbridge.mappers import Mapper
    from auditbridge.testing.contract import Contract, Fixture


def mapper_contract_tests(mapper: str | Mapper, events_dir: str | Path, **options: Any) -> type:
    """A pytest test class running the whole contract for ``mapper`` over ``events_dir``.

    ``mapper`` is an installed mapper's name (found through entry points, as in
    production) or a :class:`~auditbridge.mappers.Mapper`. Assign the result to a name
    starting with ``Test`` in a test module.
    """
    from auditbridge.testing.contract import Contract

    contract = Contract.for_mapper(mapper, events_dir, **options)

    class MapperContractTests:
        auditbridge_contract = contract

        def test_contract(self, auditbridge_contract_case: tuple[str, Fixture]) -> None:
            check, fixture = auditbridge_contract_case
            violations = self.auditbridge_contract.run_case(check, fixture)
            assert not violations, "\n".join(str(v) for v in violations)

        def test_fixture_folder_is_not_empty(self) -> None:
            assert self.auditbridge_contract.fixtures(), f"no fixtures in {events_dir}"

    MapperContractTests.__name__ = f"MapperContract[{contract.mapper.name}]"
    return MapperContractTests


def contract_for(cls: Any) -> Contract | None:
    from auditbridge.testing.contract import Contract

    contract = getattr(cls, "auditbridge_contract", None)
    return contract if isinstance(contract, Contract) else None

"""The standard mapper contract, from auditbridge's kit, over this plugin's fixtures."""

from pathlib import Path

from auditbridge.testing import mapper_contract_tests

TestOktaContract = mapper_contract_tests("okta", Path(__file__).parent / "fixtures")

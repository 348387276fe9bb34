"""Attack corpus (#7): one test per attack, named ``test_attack_<name>``; see specs/threat-model.md."""

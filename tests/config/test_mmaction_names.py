"""A config naming an MMAction2 type vidlab lacks is told so plainly, not offered a look-alike."""

import pytest

from vidlab.config import Config, ConfigError, find_problems, resolve_type
from vidlab.config.names import NAMES


@pytest.mark.parametrize("name", ["VindLURetrieval", "mmaction.VindLURetrieval", "SubBatchNorm3D"])
def test_unimplemented_mmaction2_names_say_so(name):
    with pytest.raises(ConfigError, match=r"MMAction2's '\w+' is not implemented in vidlab") as e:
        resolve_type(name, key_path="model.backbone")
    assert "did you mean" not in str(e.value) and str(e.value).startswith("model.backbone: ")


def test_implemented_names_and_typos_are_unaffected():
    assert resolve_type("ResNet").__name__ == "ResNet"
    problems = find_problems(Config(model=dict(type="Recognizer2DD", backbone=None)))
    assert len(problems) == 1 and "did you mean 'Recognizer2D'" in problems[0]


def test_every_vidlab_name_that_mmaction2_has_resolves():
    from vidlab.compat.mmaction_names import MMACTION2_NAMES

    assert len(MMACTION2_NAMES) > 200
    for name in sorted(MMACTION2_NAMES & set(NAMES)):
        resolve_type(name)  # would raise if a NAMES entry were shadowed by the plain message


def test_build_says_so_too():
    from vidlab.config import build

    with pytest.raises(ConfigError, match=r"MMAction2's 'VindLURetrieval' is not implemented"):
        build(dict(type="Recognizer3D", backbone=dict(type="VindLURetrieval")))
    with pytest.raises(ConfigError, match=r"unknown type 'ResNet3dd'; did you mean 'ResNet3d'"):
        build(dict(type="ResNet3dd", depth=50))

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(TRAINING))
TESTDATA = os.path.join(REPO_ROOT, "..", "shared", "testdata")
sys.path.insert(0, TRAINING)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def face_path(i: int) -> str:
    return os.path.join(TESTDATA, "faces", f"ffhq-{i}.png")


@pytest.fixture(scope="session")
def portrait():
    from pe_teachers import face
    from pe_teachers.imageio import load_rgb

    return face.analyse(load_rgb(face_path(2)))


@pytest.fixture(scope="session")
def portrait_turned():
    from pe_teachers import face
    from pe_teachers.imageio import load_rgb

    return face.analyse(load_rgb(face_path(6)))

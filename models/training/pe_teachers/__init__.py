"""Teachers and training data for the 3DPE-style portrait editor.

- face:     MediaPipe face mesh (468+10 iris points) + selfie matte, FFHQ-style alignment, head pose
- camera:   EG3D camera convention (cam2world on a radius-2.7 sphere, fx=fy=4.2647, cx=cy=0.5)
- styles:   the 2D editing teachers (a bank of named deterministic stylizers)
- prompts:  text prompt -> style (all-MiniLM-L6-v2), image prompt -> style (colour/texture features)
- lift:     the 3D teacher (mesh depth + matte proxy + background plane, z-buffered re-rendering)
- engine:   the baseline 'teacher' engine used by `python -m pe_teachers.cli edit`
"""
import os as _os

_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_os.environ.setdefault("GLOG_minloglevel", "2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

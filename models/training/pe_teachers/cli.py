"""Command line for the teachers.

  python -m pe_teachers.cli edit IMAGE (--prompt TEXT | --ref REF.png) [--yaw D] [--pitch D]
                                [--strength S] [--size N] -o OUT.png
  python -m pe_teachers.cli styles            # list the style ids, titles and phrasings
  python -m pe_teachers.cli select "TEXT"     # which style a text prompt picks

edit: detect + align the face, stylize the aligned crop, then
  * no --yaw/--pitch: paste the edit back into the source image (same size as the input);
  * --yaw/--pitch (EG3D degrees; a missing one keeps the source's): the 3D teacher re-renders
    the edited aligned portrait (256x256, or --size) at that view.
Exit codes: 0 ok; 2 bad input (not an image, too large, no face, bad arguments); 1 internal error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def main(argv=None) -> int:
    ap = _Parser(prog="python -m pe_teachers.cli", description="teacher engine: 2D stylizers + 3D mesh lift")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    e = sub.add_parser("edit", help="edit a portrait")
    e.add_argument("image")
    e.add_argument("--prompt", "-p", default=None)
    e.add_argument("--ref", default=None, help="reference image (image prompt)")
    e.add_argument("--style", default=None, help="a style id (skips prompt matching)")
    e.add_argument("--yaw", type=float, default=None)
    e.add_argument("--pitch", type=float, default=None)
    e.add_argument("--strength", type=float, default=1.0)
    e.add_argument("--size", type=int, default=None, help="output size at a novel view (default 256)")
    e.add_argument("-o", "--out", required=True)
    e.add_argument("--json", action="store_true", help="print what was done as JSON on stdout")
    sub.add_parser("styles", help="list styles")
    s = sub.add_parser("select", help="text prompt -> style")
    s.add_argument("text")
    a = ap.parse_args(argv)

    from .imageio import InputError

    try:
        if a.cmd == "styles":
            from . import styles

            for n in styles.NAMES:
                st = styles.STYLES[n]
                print(f"{n}\t{st.title}\t{' | '.join(st.train_prompts)}")
            return 0
        if a.cmd == "select":
            from .prompts import text_selector

            name, sc = text_selector().select(a.text)
            print(json.dumps({"style": name, "similarity": round(sc, 4)}))
            return 0
        # edit
        from . import engine, styles
        from .imageio import load_rgb, save_rgb

        if not (0.0 <= a.strength <= 1.0):
            raise InputError("--strength must be in [0, 1]")
        for name, v, lim in (("--yaw", a.yaw, 90), ("--pitch", a.pitch, 60)):
            if v is not None and not (-lim <= v <= lim):
                raise InputError(f"{name} must be within +-{lim} degrees")
        if a.size is not None and not (32 <= a.size <= 2048):
            raise InputError("--size must be in [32, 2048]")
        ext = os.path.splitext(a.out)[1].lower()
        if ext not in (".png", ".jpg", ".jpeg", ".webp"):
            raise InputError("output must be .png, .jpg or .webp")
        img = load_rgb(a.image)
        ref = load_rgb(a.ref) if a.ref else None
        if a.style:
            if a.style not in styles.STYLES:
                raise InputError(f"unknown style {a.style!r}; known: {', '.join(styles.NAMES)}")
            style, why = a.style, f"style {a.style}"
        else:
            style, why = engine.choose_style(a.prompt, ref)
        out, info = engine.edit(img, style, a.strength, a.yaw, a.pitch, a.size)
        save_rgb(a.out, out)
        info["why"] = why
        info["out"] = a.out
        print(why, file=sys.stderr)
        if a.json:
            print(json.dumps(info))
        return 0
    except InputError as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

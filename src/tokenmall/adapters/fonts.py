"""Where a CJK font is on this machine, found by file path (``fonts-noto-cjk`` on Debian,
WenQuanYi, or any ``*CJK*`` under the font folders): the simulator's plots and the share
posters draw Chinese with it."""

from __future__ import annotations

import glob
from pathlib import Path

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
FONT_GLOBS = ("/usr/share/fonts/**/*CJK*", "/usr/local/share/fonts/**/*CJK*")


def cjk_font_paths() -> list[str]:
    """Every CJK font file found, the preferred first."""
    paths = [p for p in FONT_CANDIDATES if Path(p).is_file()]
    for pattern in FONT_GLOBS:
        paths.extend(p for p in sorted(glob.glob(pattern, recursive=True)) if p not in paths)
    return paths

#!/usr/bin/env bash
# Makes ui/static/emoji.woff2: the emoji of the composer's picker
# (ui/static/chat.js, EMOJI) cut from Debian's Noto Color Emoji, so a
# browser without a colour emoji font still draws them (app.css's
# "webchat emoji" face falls back to it). Run again after changing the
# picker. Needs fonts-noto-color-emoji, python3-fonttools, python3-brotli.
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
# The picker's code points, and U+FE0F (the emoji presentation selector).
codes=$(/usr/bin/python3 - <<'PY'
import re
js = open('ui/static/chat.js', encoding='utf-8').read()
picker = re.search(r"const EMOJI = \[(.*?)\];", js).group(1)
cps = sorted({ord(c) for e in re.findall(r"'([^']*)'", picker) for c in e} | {0xFE0F})
print(','.join('U+%X' % c for c in cps))
PY
)
/usr/bin/python3 -m fontTools.subset "$src" --unicodes="$codes" --flavor=woff2 \
  --name-IDs='*' --output-file=ui/static/emoji.woff2
echo "wrote ui/static/emoji.woff2 ($codes)"

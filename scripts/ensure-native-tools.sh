#!/usr/bin/env bash
# Makes the native document tools available: tesseract (OCR) with the traineddata of every language in
# OCR_LANGUAGES (tesseract codes, e.g. "eng+deu" or "eng,fra"; default eng), and poppler-utils (pdftotext,
# pdfinfo, pdftoppm for PDFs). Installed from Debian's own packages when missing; idempotent and quick when
# everything is there. Without root it says what to install and carries on: OCR then runs on tesseract.js and
# PDFs on pdf.js (slower, and scanned PDFs are not OCR'd).
set -euo pipefail

say() { printf '\033[36m[ensure]\033[0m %s\n' "$*"; }

languages=$(printf '%s' "${OCR_LANGUAGES:-eng}" | tr ',+' '  ')
packages=()

if command -v tesseract >/dev/null 2>&1; then
  # Tesseract 5 lists on stdout, 4 on stderr; the first line is a heading.
  installed=$(tesseract --list-langs 2>&1 | tail -n +2)
else
  packages+=(tesseract-ocr)
  installed=""
fi
for lang in $languages; do
  if ! printf '%s\n' "$installed" | grep -qx "$lang"; then
    # Debian names the package after the code with dashes: chi_sim -> tesseract-ocr-chi-sim.
    packages+=("tesseract-ocr-$(printf '%s' "$lang" | tr '[:upper:]_' '[:lower:]-')")
  fi
done
for tool in pdftotext pdfinfo pdftoppm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    packages+=(poppler-utils)
    break
  fi
done

[ "${#packages[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  say "missing native document tools: ${packages[*]}"
  say "install them as root: apt-get install --no-install-recommends ${packages[*]}"
  case " ${packages[*]} " in
    *" poppler-utils "*) say "until then PDFs are read with pdf.js, and their scanned pages are not OCR'd" ;;
  esac
  say "until then OCR falls back to tesseract.js, which needs @tesseract.js-data/<language> from npm"
  exit 0
fi

say "installing ${packages[*]} from apt"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}" >/dev/null; }
if ! install 2>/dev/null; then
  # A fresh image has no package lists ("Unable to locate package"): fetch them once and retry.
  say "refreshing the apt package lists"
  apt-get update -q >/dev/null
  install
fi

for tool in tesseract pdftotext pdfinfo pdftoppm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "[ensure] $tool is still missing after installing ${packages[*]}" >&2; exit 1; }
done
say "native document tools installed"

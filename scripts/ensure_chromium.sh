#!/usr/bin/env bash
# Install Debian's chromium for the book's browser test when it is absent and we can (root).
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "chromium install failed: the browser test will skip"
else
  echo "chromium absent and not root: the browser test will skip (apt-get install chromium to enable it)"
fi
exit 0

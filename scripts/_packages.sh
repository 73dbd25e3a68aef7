# The Debian packages the project needs, in one place (sourced by _setup.sh and install-minipc; tests/test_system_files.py
# checks that every system file the code and the tests use comes from one of them).
#
# Each package whose file the code names is listed by its own name (libreoffice-common has /usr/bin/soffice,
# libsofthsm2 the PKCS#11 module), not only through what depends on it.
# The server (scripts/serve, scripts/install-minipc): LibreOffice's writer, calc and impress without a GUI, to turn
# Word/Excel/PowerPoint uploads into PDF, the fonts Office documents name (Liberation 2 for Times New Roman, Arial
# and Courier New, with every Vietnamese letter; Carlito for Calibri, Caladea for Cambria; DejaVu for the rest),
# util-linux's unshare for LibreOffice's box without network and coreutils' nice, under which background children
# start (runner.py) (Debian installs both everywhere; named to say so), and
# ca-certificates, against which doctor checks an HTTPS certificate's chain (docs/SECURITY.md), tesseract with
# its Vietnamese model, which reads scanned pages for reading mode and search (docs/DOCUMENTS.md), and
# postgresql-client, whose pg_dump and pg_restore back up and restore a server on PostgreSQL (services/pgbackup.py:
# the programs of the server's own major version, /usr/lib/postgresql/N/bin; this package pulls in Debian's
# supported one, a server of another major needs postgresql-client-N, which the refusal names). A few MB; the
# mini-PC on SQLite never runs them.
SERVER_PACKAGES=(libreoffice-common libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
  fonts-liberation2 fonts-crosextra-carlito fonts-crosextra-caladea fonts-dejavu-core util-linux coreutils
  ca-certificates tesseract-ocr tesseract-ocr-vie postgresql-client)
# The tests, besides the server's: browser tests (chromium), PDF checks (pdftoppm, pdfsig, pdffonts), systemd unit
# checks, QR decoding of printed cards, a software USB token for PKCS#11 signing, Redis for two joined processes,
# the second browser engine: WebKitGTK's WebDriver (Safari's engine, tests/e2e/webkit/) under a virtual display,
# HAProxy, the front the tests start over three server processes (tests/realtime/test_front.py: balancing by
# phone address, WebSockets passed through, a killed process taken out by its /healthz; the mini-PC does not need
# it: one process serves the room; a deployment past one box installs it itself, `meeting-server front-config`),
# and PostgreSQL (initdb, pg_ctl, libpq5 for psycopg; contrib's unaccent and pg_trgm) for the storage tests' second
# database, a private cluster each run makes in a temporary directory (tests/pg_kit.py, pytest --db=postgresql).
TEST_PACKAGES=(chromium poppler-utils systemd zbar-tools softhsm2 libsofthsm2 redis-server webkit2gtk-driver xvfb
  haproxy postgresql postgresql-contrib)

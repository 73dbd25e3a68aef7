"""Run by test_minutes_claims_pg.py as one server process of one box: an app on its own data directory and the
shared PostgreSQL database, which finalizes (freeze, render and sign in the worker, store) the meeting's minutes
once the given instant comes. Reads JSON on stdin: url, data_dir, meeting_id, at (time.time() to start at).
Prints one JSON line: "finalized", or the refusal's code.
"""

import json
import sys
import time
from pathlib import Path


def main() -> None:
    ask = json.loads(sys.stdin.read())
    from meeting_server.app import create_app
    from meeting_server.domain.errors import DomainError
    from meeting_server.services import minutes
    from meeting_server.store import db
    from meeting_server.store.tables import Meeting

    app = create_app({"DATA_DIR": Path(ask["data_dir"]), "DATABASE_URL": ask["url"], "DISCOVERY": False,
                      "SOCKETIO_ASYNC_MODE": "threading"})
    with db.standalone_session(app) as s:
        m = s.get(Meeting, int(ask["meeting_id"]))
        assert m is not None
        s.commit()
        print(json.dumps({"ready": True}), flush=True)
        time.sleep(max(0.0, float(ask["at"]) - time.time()))
        try:
            minutes.finalize(app, s, m, "clerk:" + Path(ask["data_dir"]).name)
            out = "finalized"
        except DomainError as err:
            out = err.code
    print(json.dumps({"outcome": out}), flush=True)


if __name__ == "__main__":
    main()

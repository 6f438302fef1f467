"""Our additions to the QuickFIX 1.16.0 sdist (run by deploy/build-quickfix-ssl.sh on the unpacked source).

1. The duplicate-logon event: QuickFIX refuses a second connection to a session that is already
   logged on without a word (the threaded connections after a 5 s wait, the polled ones at once,
   under the misleading "Session not found"); log it as a global event so the gateway can report
   it (gateway/ops/events.py matches the text).
2. PlxLoopAccess (deploy/quickfix-loop-sockets.cpp): the polled connectors, their connections,
   their socket monitor and Session name it a friend, so the event loop can learn which sockets
   to watch and how much a session has queued.
Every patch fails loudly if the text it replaces is not exactly where it was in 1.16.0.
"""

import re
import shutil
import sys
from pathlib import Path

DUPLICATE = "Session already logged on, connection refused: "


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        sys.exit(f"{path}: patch target not found as in QuickFIX 1.16.0: {old[:60]!r}")
    path.write_text(text.replace(old, new))


def main(src: Path, loop_sockets: Path) -> None:
    cpp = src / "C++"
    for name in ("ThreadedSocketConnection.cpp", "ThreadedSSLSocketConnection.cpp"):
        path = cpp / name
        param = re.search(r"::setSession\(const std::string &(\w+)\)", path.read_text()).group(1)
        replace_once(path, "  if (!m_pSession) {\n    return false;\n  }\n  if (m_sessions.find",
                     "  if (!m_pSession) {\n    if (m_pLog) {\n      m_pLog->onEvent(\"" + DUPLICATE
                     + f"\" + {param});\n    }}\n    return false;\n  }}\n  if (m_sessions.find")
    for name in ("SocketConnection.cpp", "SSLSocketConnection.cpp"):
        replace_once(
            cpp / name,
            "      if (!isValidSession()) {\n        m_pSession = 0;\n        if (acceptor.getLog()) {\n"
            "          acceptor.getLog()->onEvent(\"Session not found for incoming message: \" + message);",
            "      if (!isValidSession()) {\n"
            "        const bool plxDuplicate = m_pSession\n"
            "            && Session::isSessionRegistered(m_pSession->getSessionID());\n"
            "        m_pSession = 0;\n        if (acceptor.getLog()) {\n"
            "          acceptor.getLog()->onEvent(std::string(plxDuplicate ? \"" + DUPLICATE + "\"\n"
            "              : \"Session not found for incoming message: \") + message);")
    heads = {"SocketMonitor_UNIX.h": "class SocketMonitor {", "Session.h": "class Session {",
             "SocketConnection.h": "class SocketConnection : Responder {",
             "SSLSocketConnection.h": "class SSLSocketConnection : Responder {"}
    for name, base in (("SocketAcceptor", "Acceptor, SocketServer"),
                       ("SocketInitiator", "Initiator, SocketConnector"),
                       ("SSLSocketAcceptor", "Acceptor, SocketServer"),
                       ("SSLSocketInitiator", "Initiator, SocketConnector")):
        heads[f"{name}.h"] = f"class {name} : public {base}::Strategy {{"
    for name, head in heads.items():
        replace_once(cpp / name, head, head + "\n  friend struct PlxLoopAccess;")
    shutil.copy(loop_sockets, cpp / "PlxLoopSockets.cpp")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

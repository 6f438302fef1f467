"""Our additions to the QuickFIX 1.16.0 sdist (run by deploy/build-quickfix-ssl.sh on the unpacked source).

1. The duplicate-logon event: QuickFIX refuses a second connection to a session that is already
   logged on without a word (the threaded connections after a 5 s wait, the polled ones at once,
   under the misleading "Session not found"); log it as a global event so the gateway can report
   it (gateway/ops/events.py matches the text).
2. The polled acceptor connection checks AllowedRemoteAddresses before it processes the Logon
   (as the threaded one does), not after answering it; and it handles what came in the same read
   as the Logon at once, not when the partner next sends something.
3. PlxLoopAccess (deploy/quickfix-loop-sockets.cpp): the polled connectors, their connections,
   their socket monitor and Session name it a friend, so the event loop can learn which sockets
   to watch and how much a session has queued.
4. PostgreSQLStore (built with HAVE_POSTGRESQL, used when the gateway's store is PostgreSQL):
   the port is an int, not a C short (a port above 32767 wrapped negative and libpq refused it),
   and the message of the overwrite UPDATE is escaped like the INSERT's (a resent seqnum whose
   message holds a quote failed). CompIDs are not escaped here: the config refuses ' and \\ in
   them when this store is used (gateway/config/model.py).
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
    # The polled connection checks AllowedRemoteAddresses only after it processed (and answered)
    # the Logon; the threaded one checks first. Check first, as a denied peer must get nothing.
    process = ("      if (m_pSession) {\n        m_pSession->next(message, UtcTimeStamp::now());\n      }\n"
               "      if (!m_pSession) {\n        server.getMonitor().drop(m_socket);\n"
               "        return false;\n      }\n")
    log_event = "          m_pSession->getLog()->onEvent("
    deny = log_event + "\"Deny connections to the acceptor from \" + remote_address);\n"
    allow = log_event[2:] + "\"Allows connections to the acceptor from \" + remote_address);\n"
    check = ("        std::string remote_address = socket_peername(m_socket);\n"
             "        if (!m_pSession->getAllowedRemoteAddresses().empty() && "
             "!m_pSession->inAllowedRemoteAddresses(remote_address)) {\n" + deny)
    replace_once(cpp / "SocketConnection.cpp",
                 process + "\n      if (m_pSession->isAcceptor()) {\n" + check
                 + "          return false;\n        }\n" + allow + "      }\n",
                 "      if (m_pSession && m_pSession->isAcceptor()) {\n" + check
                 + "          m_pSession->disconnect();\n          m_pSession = 0;\n          return false;\n"
                 + "        }\n" + allow + "      }\n" + process)
    # The polled acceptor connections handle only the first message of their first read (the
    # Logon): whatever came in the same read waited for the partner's next bytes. Handle it now.
    for name in ("SocketConnection.cpp", "SSLSocketConnection.cpp"):
        replace_once(cpp / name,
                     "      Session::registerSession(m_pSession->getSessionID());\n      return true;\n",
                     "      Session::registerSession(m_pSession->getSessionID());\n"
                     "      if (m_pSession->isLoggedOn()) {\n"
                     "        readMessages(server.getMonitor());\n      }\n"
                     "      return true;\n")
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
    patch_postgresql_store(cpp)


def patch_postgresql_store(cpp: Path) -> None:
    # The port travels as a short from the settings to PQsetdbLogin: widen every hop of the
    # settings path (the explicit-arguments constructors keep their short: the SWIG wrapper's).
    ident = cpp / "DatabaseConnectionID.h"
    replace_once(ident, "      const std::string &host,\n      short port)\n      : m_database(database),",
                 "      const std::string &host,\n      int port)\n      : m_database(database),")
    replace_once(ident, "  short getPort() const { return m_port; }",
                 "  int getPort() const { return m_port; }")
    replace_once(ident, "  std::string m_host;\n  short m_port;\n};",
                 "  std::string m_host;\n  int m_port;\n};")
    conn = cpp / "PostgreSQLConnection.h"
    replace_once(conn, "      const std::string &host,\n      short port)\n      : m_connectionID(",
                 "      const std::string &host,\n      int port)\n      : m_connectionID(")
    replace_once(conn, "    short port = m_connectionID.getPort();",
                 "    int port = m_connectionID.getPort();")
    store = cpp / "PostgreSQLStore.cpp"
    replace_once(store, "  std::string host = DEFAULT_HOST;\n  short port = DEFAULT_PORT;",
                 "  std::string host = DEFAULT_HOST;\n  int port = DEFAULT_PORT;")
    replace_once(store, "    port = (short)settings.getInt(POSTGRESQL_STORE_PORT);",
                 "    port = settings.getInt(POSTGRESQL_STORE_PORT);")
    # The overwrite UPDATE (a seqnum sent again after a crash) used the raw message.
    replace_once(store, "              << \"'\" << msgCopy << \"')\";\n\n  delete[] msgCopy;\n",
                 "              << \"'\" << msgCopy << \"')\";\n\n  const std::string plxEscaped(msgCopy);\n"
                 "  delete[] msgCopy;\n")
    replace_once(store, "queryString2 << \"UPDATE messages SET message='\" << msg << \"' WHERE \"",
                 "queryString2 << \"UPDATE messages SET message='\" << plxEscaped << \"' WHERE \"")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

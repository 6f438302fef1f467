// Lets an event loop drive QuickFIX's non-threaded connectors (gateway/fix/loop_driver.py).
//
// QuickFIX's SocketAcceptor/SocketInitiator (and their SSL twins) keep their sockets in a
// SocketMonitor and expose only poll(), which polls every socket they own. An event loop that
// calls poll() only when one of those sockets is ready needs to know which sockets to watch;
// the Python binding exposes none of them. deploy/build-quickfix-ssl.sh compiles this file into
// the _quickfix extension (the classes below name PlxLoopAccess a friend) and the gateway calls
// these functions through ctypes with the connector's C++ pointer (int(connector.this)).
//
// kind: 0 SocketAcceptor, 1 SocketInitiator, 2 SSLSocketAcceptor, 3 SSLSocketInitiator. Every
// function must be called on the thread that polls the connector, never from inside poll().

#include "config.h"

#include <map>
#include <typeinfo>
#include <utility>
#include <vector>

#include "Session.h"
#include "SocketAcceptor.h"
#include "SocketConnection.h"
#include "SocketInitiator.h"
#include "SocketMonitor.h"
#include "SocketServer.h"
#if (HAVE_SSL > 0)
#include "SSLSocketAcceptor.h"
#include "SSLSocketConnection.h"
#include "SSLSocketInitiator.h"
#endif

namespace FIX {
struct PlxLoopAccess {
  // Each socket once: fd << 2 | 1 (wants reading) | 2 (wants writing; a pending connect too).
  static int sockets(SocketMonitor &monitor, int *out, int cap) {
    std::map<socket_handle, int> wanted;
    for (socket_handle s : monitor.m_readSockets) {
      wanted[s] |= 1;
    }
    for (socket_handle s : monitor.m_writeSockets) {
      wanted[s] |= 2;
    }
    for (socket_handle s : monitor.m_connectSockets) {
      wanted[s] |= 2;
    }
    const int n = static_cast<int>(wanted.size());
    if (n > cap) {
      return -n;
    }
    int i = 0;
    for (const auto &entry : wanted) {
      out[i++] = (static_cast<int>(entry.first) << 2) | entry.second;
    }
    return n;
  }

  // Sessions disconnected (their onLogout runs), connection sockets closed and forgotten.
  template <class Connections> static void dropAll(Connections &connections, SocketMonitor &monitor) {
    std::vector<std::pair<socket_handle, Session *>> open;
    for (const auto &entry : connections) {
      open.emplace_back(entry.first, entry.second->getSession());
    }
    for (const auto &entry : open) {
      if (entry.second) {
        entry.second->disconnect();
      }
      monitor.drop(entry.first);
    }
  }

  // Messages waiting in a polled connection's send queue (its partner's TCP window was full).
  static int queued(void *p) {
    Responder *responder = static_cast<Session *>(p)->m_pResponder;
    if (!responder) {
      return -1;
    }
    // The connections inherit Responder privately: dynamic_cast cannot see them, typeid can.
    if (typeid(*responder) == typeid(SocketConnection)) {
      SocketConnection *connection = static_cast<SocketConnection *>(responder);
      Locker l(connection->m_mutex);
      return static_cast<int>(connection->m_sendQueue.size());
    }
#if (HAVE_SSL > 0)
    if (typeid(*responder) == typeid(SSLSocketConnection)) {
      SSLSocketConnection *connection = static_cast<SSLSocketConnection *>(responder);
      Locker l(connection->m_mutex);
      return static_cast<int>(connection->m_sendQueue.size());
    }
#endif
    return -2;
  }

  static int dropped(SocketMonitor &monitor) { return static_cast<int>(monitor.m_dropped.size()); }

  template <class Acceptor> static int acceptorDropped(void *p) {
    Acceptor *acceptor = static_cast<Acceptor *>(p);
    return acceptor->m_pServer ? dropped(acceptor->m_pServer->getMonitor()) : 0;
  }

  template <class Initiator> static int initiatorDropped(void *p) {
    return dropped(static_cast<Initiator *>(p)->m_connector.getMonitor());
  }

  template <class Acceptor> static int acceptorSockets(void *p, int *out, int cap) {
    Acceptor *acceptor = static_cast<Acceptor *>(p);
    return acceptor->m_pServer ? sockets(acceptor->m_pServer->getMonitor(), out, cap) : 0;
  }

  template <class Initiator> static int initiatorSockets(void *p, int *out, int cap) {
    return sockets(static_cast<Initiator *>(p)->m_connector.getMonitor(), out, cap);
  }

  template <class Acceptor> static int acceptorTimeout(void *p) {
    Acceptor *acceptor = static_cast<Acceptor *>(p);
    if (!acceptor->m_pServer) {
      return -1;
    }
    acceptor->onTimeout(*acceptor->m_pServer);
    return 0;
  }

  template <class Initiator> static int initiatorTimeout(void *p) {
    Initiator *initiator = static_cast<Initiator *>(p);
    initiator->onTimeout(initiator->m_connector);
    return 0;
  }

  template <class Acceptor> static int acceptorClose(void *p) {
    Acceptor *acceptor = static_cast<Acceptor *>(p);
    if (!acceptor->m_pServer) {
      return -1;
    }
    dropAll(acceptor->m_connections, acceptor->m_pServer->getMonitor());
    // One poll hands every dropped socket to onDisconnect, which frees its connection.
    acceptor->m_pServer->block(static_cast<SocketServer::Strategy &>(*acceptor), true);
    return 0;
  }

  template <class Initiator> static int initiatorClose(void *p) {
    Initiator *initiator = static_cast<Initiator *>(p);
    SocketMonitor &monitor = initiator->m_connector.getMonitor();
    dropAll(initiator->m_connections, monitor);
    dropAll(initiator->m_pendingConnections, monitor);
    initiator->m_connector.block(static_cast<SocketConnector::Strategy &>(*initiator), true);
    return 0;
  }

#if (HAVE_SSL > 0)
  static int sslInitiatorClose(void *p) {
    FIX::SSLSocketInitiator *initiator = static_cast<FIX::SSLSocketInitiator *>(p);
    dropAll(initiator->m_pendingSSLHandshakes, initiator->m_connector.getMonitor());
    return initiatorClose<FIX::SSLSocketInitiator>(p);
  }
#endif
};
} // namespace FIX

using FIX::PlxLoopAccess;

extern "C" {
// Sockets the connector's monitor waits on, encoded as above; -needed when cap is too small,
// 0 before the first poll of an acceptor (nothing bound yet). -2 for an unknown kind.
int plx_connector_sockets(void *connector, int kind, int *out, int cap) {
  switch (kind) {
  case 0:
    return PlxLoopAccess::acceptorSockets<FIX::SocketAcceptor>(connector, out, cap);
  case 1:
    return PlxLoopAccess::initiatorSockets<FIX::SocketInitiator>(connector, out, cap);
#if (HAVE_SSL > 0)
  case 2:
    return PlxLoopAccess::acceptorSockets<FIX::SSLSocketAcceptor>(connector, out, cap);
  case 3:
    return PlxLoopAccess::initiatorSockets<FIX::SSLSocketInitiator>(connector, out, cap);
#endif
  }
  return -2;
}

// Sockets closed whose connection is freed by the next poll (0: none): poll again soon.
int plx_connector_dropped(void *connector, int kind) {
  switch (kind) {
  case 0:
    return PlxLoopAccess::acceptorDropped<FIX::SocketAcceptor>(connector);
  case 1:
    return PlxLoopAccess::initiatorDropped<FIX::SocketInitiator>(connector);
#if (HAVE_SSL > 0)
  case 2:
    return PlxLoopAccess::acceptorDropped<FIX::SSLSocketAcceptor>(connector);
  case 3:
    return PlxLoopAccess::initiatorDropped<FIX::SSLSocketInitiator>(connector);
#endif
  }
  return -2;
}

// Messages queued in the session's polled connection, not yet written to its socket; -1 when the
// session has no connection, -2 when it is served by a threaded connector (which blocks instead).
int plx_session_queued(void *session) { return PlxLoopAccess::queued(session); }

// What an idle poll runs: heartbeats, TestRequests, logon/logout timeouts, initiator reconnects.
// A poll that finds a socket ready skips it, so a busy connector needs this on a timer.
int plx_connector_timeout(void *connector, int kind) {
  switch (kind) {
  case 0:
    return PlxLoopAccess::acceptorTimeout<FIX::SocketAcceptor>(connector);
  case 1:
    return PlxLoopAccess::initiatorTimeout<FIX::SocketInitiator>(connector);
#if (HAVE_SSL > 0)
  case 2:
    return PlxLoopAccess::acceptorTimeout<FIX::SSLSocketAcceptor>(connector);
  case 3:
    return PlxLoopAccess::initiatorTimeout<FIX::SSLSocketInitiator>(connector);
#endif
  }
  return -2;
}

// Closes every connection (logged on or not): a polled connector's stop() closes only its
// listening sockets, the threaded one's thread closes the rest as it ends.
int plx_connector_close(void *connector, int kind) {
  switch (kind) {
  case 0:
    return PlxLoopAccess::acceptorClose<FIX::SocketAcceptor>(connector);
  case 1:
    return PlxLoopAccess::initiatorClose<FIX::SocketInitiator>(connector);
#if (HAVE_SSL > 0)
  case 2:
    return PlxLoopAccess::acceptorClose<FIX::SSLSocketAcceptor>(connector);
  case 3:
    return PlxLoopAccess::sslInitiatorClose(connector);
#endif
  }
  return -2;
}
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix

/// Transport failures that prove the request never left this machine, so even a call that is not
/// idempotent may be sent again (to the same server, or to another coordinator).
public enum TransportFailure {
    public static func neverSent(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        if let error = error as? IOError { return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) }
        return false
    }
}

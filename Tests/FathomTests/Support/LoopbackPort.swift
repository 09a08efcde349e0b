import Foundation
import Synchronization

/// Loopback ports for servers a test starts with a port number (moto, PostgreSQL, a coordinator restarted on
/// the same port).
///
/// A port is picked below the kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768–60999 on
/// Debian), so a server that binds port 0 in another test can never be given it between the check here and the
/// child's own bind; that race once sent an ECS test's EC2 calls to a credential test's server. Ports handed out are
/// not handed out again in this process.
enum LoopbackPort {
    private static let given = Mutex(Set<Int>())

    /// A port that nothing on 127.0.0.1 listens on now, outside the ephemeral range.
    static func unused() throws -> Int {
        let (low, high) = ephemeralRange()
        // 20000 up to the ephemeral range, or above it when the range starts low.
        let candidates = low > 21_000 ? 20_000..<low : (high + 1)..<65_536
        for _ in 0..<500 {
            let port = Int.random(in: candidates)
            let fresh = given.withLock { $0.insert(port).inserted }
            if fresh, canBind(port) { return port }
        }
        throw TestFailure("no free loopback port in \(candidates)")
    }

    private static func ephemeralRange() -> (Int, Int) {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""  // not Linux: the default range
        let numbers = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : (32_768, 60_999)
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } == 0
    }
}

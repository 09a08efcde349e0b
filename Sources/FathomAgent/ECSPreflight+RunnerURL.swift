import AWS
import FathomECS
import Foundation

extension ECSPreflight {
    /// Whether tasks can reach the coordinator URL they are given: not a loopback name, a route from each
    /// subnet, and security-group egress to its port. What cannot be seen from here is said as `SKIP`.
    func runnerURL(_ text: String, config: ECSRunConfig, network: NetworkFacts?, into checks: inout [Check]) async {
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), let host = url.host, !host.isEmpty else {
            checks.append(Check(.fail, "runner URL '\(text)' is not an http(s) URL", fix: "Give the URL tasks reach, e.g. https://fathom.internal.example:4200"))
            return
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered.hasSuffix(".localhost") || lowered == "::1" || lowered == "[::1]" || lowered.hasPrefix("127.") || lowered == "0.0.0.0" {
            checks.append(Check(
                .fail, "runner URL \(text) names this machine's loopback: a task reaches its own container, not the coordinator",
                fix: "Use the coordinator's private DNS name, load balancer or private IP in --runner-api-url."))
            return
        }
        guard let network else {
            checks.append(Check(.skipped, "runner URL \(text): the run config has no network:, so its route cannot be checked", fix: "Make sure the task's network reaches \(host):\(port)."))
            return
        }
        let address = IPv4CIDR(lowered)
        let inVPC = address.flatMap { address in network.vpcCIDR.map { $0.contains(address) } } ?? false
        if !inVPC {
            for subnet in network.subnets {
                let target = network.routeTable(of: subnet)?.defaultRoute?.target ?? ""
                let reaches = target.hasPrefix("nat-") || (target.hasPrefix("igw-") && network.publicIP)
                if reaches {
                    checks.append(Check(.ok, "subnet \(subnet.subnetID) has a route toward \(host) (0.0.0.0/0 via \(target))"))
                } else if network.routeTables == nil || (!target.isEmpty && !target.hasPrefix("igw-")) {
                    checks.append(Check(
                        .skipped, "cannot tell whether subnet \(subnet.subnetID) reaches \(host)\(target.isEmpty ? "" : " (0.0.0.0/0 via \(target))")",
                        fix: "Make sure \(host) is reachable from \(subnet.subnetID): inside the VPC, or through a peering, transit gateway or NAT."))
                } else if address == nil {
                    checks.append(Check(
                        .skipped, "subnet \(subnet.subnetID) has no route out of \(network.vpcID): \(host) must resolve to an address inside it (a private hosted zone associated with the VPC, or an internal load balancer)",
                        fix: "Check where \(host) resolves inside the VPC ('dig \(host)' from an instance in \(subnet.subnetID))."))
                } else {
                    checks.append(Check(
                        .fail, "subnet \(subnet.subnetID) has no route to \(host), outside \(network.vpcID) (\(network.vpcCIDR?.description ?? "?")); the flow would never report",
                        fix: "Route 0.0.0.0/0 to a NAT gateway, or give --runner-api-url an address inside the VPC."))
                }
            }
        } else {
            checks.append(Check(.ok, "\(host) is inside \(network.vpcID) (\(network.vpcCIDR?.description ?? "")): the local route reaches it"))
        }
        if !network.taskGroups.isEmpty {
            let destination = address ?? IPv4CIDR("0.0.0.0/0")!
            let allowed = network.egressAllows(port: port, to: destination)
                || (address == nil && (network.vpcCIDR.map { network.egressAllows(port: port, to: $0) } ?? false))
            if allowed {
                checks.append(Check(.ok, "the task's security groups allow TCP \(port) out to \(host)"))
            } else if network.taskGroups.contains(where: { $0.egress.contains { $0.allowsTCP(port: port) && !$0.sourceGroupIDs.isEmpty } }) {
                checks.append(Check(
                    .skipped, "the task's security groups allow TCP \(port) out only to other security groups; whether \(host) is behind one cannot be seen from here",
                    fix: "Make sure the coordinator's instance or load balancer has one of those groups."))
            } else {
                checks.append(Check(
                    .fail, "the task's security groups allow no TCP \(port) out to \(host); the flow would never report (Crashed after reportTimeoutSeconds)",
                    fix: "aws ec2 authorize-security-group-egress --group-id \(network.taskGroups[0].groupID) --ip-permissions IpProtocol=tcp,FromPort=\(port),ToPort=\(port),IpRanges=[{CidrIp=\(address?.description ?? "0.0.0.0/0")}]"))
            }
        }
        checks.append(Check(
            .skipped, "cannot check from here that \(host):\(port) lets the task in (the coordinator's security group or load balancer) and answers",
            fix: "Allow TCP \(port) from \(network.taskGroups.first.map { "security group \($0.groupID)" } ?? "the task's subnets") on the coordinator; test with 'curl \(text)/healthz' from \(network.subnets.first?.subnetID ?? "a task subnet")."))
    }
}

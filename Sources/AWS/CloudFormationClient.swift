import Foundation

/// CloudFormation, query protocol (version 2010-05-15), XML answers.
public struct CloudFormationClient: Sendable {
    let caller: QueryProtocolCaller

    public init(client: AWSClient) {
        caller = QueryProtocolCaller(client: client, service: .cloudformation, version: "2010-05-15")
    }

    /// Any CloudFormation action (query parameters in, XML out), for actions without a typed wrapper. A call that
    /// makes something (CreateStack) passes `idempotent: false`, so a lost answer is not followed by a second call.
    public func call(
        _ action: String, _ parameters: [(String, String)], idempotent: Bool = true, timeout: Duration? = nil
    ) async throws -> XMLElement {
        try await caller.call(AWSOperation(.cloudformation, action), parameters, idempotent: idempotent, timeout: timeout)
    }

    /// One stack by name or id: its status and outputs. Nil when CloudFormation says it does not exist.
    public func describeStack(_ name: String) async throws -> CloudFormationStack? {
        let root: XMLElement
        do {
            root = try await caller.call(AWSOperation.CloudFormation.describeStacks, [("StackName", name)])
        } catch let AWSError.service(error) where error.code == "ValidationError" && error.message.contains("does not exist") {
            // botocore's model has no "not found" error: DescribeStacks answers ValidationError "Stack with id X does not exist".
            return nil
        }
        guard let stack = root.find("Stacks")?.all("member").first else { return nil }
        let outputs = (stack.child("Outputs")?.all("member") ?? []).compactMap { member -> (String, String)? in
            guard let key = member.string("OutputKey") else { return nil }
            return (key, member.string("OutputValue") ?? "")
        }
        return CloudFormationStack(
            name: stack.string("StackName") ?? name, id: stack.string("StackId") ?? "", status: stack.string("StackStatus") ?? "",
            statusReason: stack.string("StackStatusReason"), outputs: Dictionary(outputs) { first, _ in first })
    }
}

/// What DescribeStacks says about a stack.
public struct CloudFormationStack: Sendable, Equatable {
    public var name: String
    public var id: String
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …
    public var status: String
    public var statusReason: String?
    /// Output key → value.
    public var outputs: [String: String]

    /// Whether the stack's resources are in place: a create or update finished (a rolled-back update keeps the
    /// previous, working resources).
    public var isUsable: Bool {
        ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"].contains(status)
    }
}

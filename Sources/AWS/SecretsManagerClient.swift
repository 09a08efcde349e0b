import FathomCore
import Foundation

/// Secrets Manager, JSON 1.1: reading a secret's value (`fathom infra run-config --env` reads the API token).
public struct SecretsManagerClient: Sendable {
    let caller: JSONProtocolCaller

    public init(client: AWSClient) {
        caller = JSONProtocolCaller(client: client, service: .secretsmanager, targetPrefix: "secretsmanager")
    }

    /// The secret's current string value; nil for a binary secret.
    public func secretString(_ secretID: String) async throws -> String? {
        let output: GetSecretValueOutput = try await caller.call(
            AWSOperation.SecretsManager.getSecretValue, GetSecretValueInput(SecretId: secretID))
        return output.SecretString
    }
}

struct GetSecretValueInput: Encodable {
    var SecretId: String
}

struct GetSecretValueOutput: Decodable {
    var SecretString: String?
}

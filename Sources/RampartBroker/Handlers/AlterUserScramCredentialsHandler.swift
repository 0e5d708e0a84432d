import KafkaProtocol
import NIOCore
import RampartAuthorizer
import RampartMetadata
import RampartSASL

/// AlterUserScramCredentials (key 51): upserts and deletes SCRAM credentials with Kafka's validation
/// and error codes. The client sends the salt and SaltedPassword (never the password); the broker keeps
/// only StoredKey and ServerKey derived from them. Kafka requires Alter on the Cluster
/// (CLUSTER_AUTHORIZATION_FAILED; `super.users` have it). Rampart also refuses it on a listener without TLS —
/// SaltedPassword is as good as the password — unless
/// `rampart.insecure.allow.credential.changes.without.tls=true`. Every valid change of a request is
/// committed in one metadata update; connections authenticate with the new credentials from then on.
struct AlterUserScramCredentialsHandler: KafkaAPIHandler {
    typealias Request = AlterUserScramCredentialsRequest
    typealias Result = AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...0

    private enum Change {
        case upsert(SCRAMCredential)
        case delete(SCRAMMechanism)
    }

    func handle(_ request: AlterUserScramCredentialsRequest, context: RequestContext) async -> AlterUserScramCredentialsResponse? {
        let users = orderedUsers(request)
        let authorization = broker.authorization(context)
        guard authorization.allowsCluster(.alter) else {
            return respond(users.map { Result(user: $0, errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue,
                                              errorMessage: "Cluster authorization failed.") })
        }
        guard broker.settings.encryptedListeners.contains(context.listenerName) || broker.settings.allowCredentialChangesWithoutTLS else {
            return respond(users.map { Result(user: $0, errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue,
                                              errorMessage: "SCRAM credentials are changed only over TLS (listener \(context.listenerName) is not encrypted)") })
        }

        // Validate each user's changes; a user with any invalid change gets that error and no change.
        var errors: [String: (KafkaErrorCode, String)] = [:]
        var changes: [String: [Change]] = [:]
        var seen = Set<String>()
        func record(_ user: String, _ mechanismType: Int8, _ change: () -> Result?) {
            guard errors[user] == nil else { return }
            if user.isEmpty {
                errors[user] = (.unacceptableCredential, "Username must not be empty")
                return
            }
            guard let mechanism = SCRAMMechanism(kafkaType: mechanismType) else {
                errors[user] = (.unsupportedSaslMechanism, "Unknown SCRAM mechanism")
                return
            }
            guard seen.insert("\(mechanism.name)\u{0}\(user)").inserted else {
                errors[user] = (.duplicateResource, "A user credential cannot be altered twice in the same request")
                return
            }
            if let failure = change() { errors[user] = (KafkaErrorCode(failure.errorCode), failure.errorMessage ?? "") }
        }
        for deletion in request.deletions {
            record(deletion.name, deletion.mechanism) {
                changes[deletion.name, default: []].append(.delete(SCRAMMechanism(kafkaType: deletion.mechanism)!))
                return nil
            }
        }
        for upsertion in request.upsertions {
            record(upsertion.name, upsertion.mechanism) {
                let mechanism = SCRAMMechanism(kafkaType: upsertion.mechanism)!
                if upsertion.iterations < Int32(SCRAMMechanism.minIterations) {
                    return Result(user: upsertion.name, errorCode: KafkaErrorCode.unacceptableCredential.rawValue, errorMessage: "Too few iterations")
                }
                if upsertion.iterations > Int32(SCRAMMechanism.maxIterations) {
                    return Result(user: upsertion.name, errorCode: KafkaErrorCode.unacceptableCredential.rawValue, errorMessage: "Too many iterations")
                }
                let salted = Array(buffer: upsertion.saltedPassword)
                guard salted.count == mechanism.digestSize, upsertion.salt.readableBytes > 0,
                      let credential = try? SCRAMCredential.fromSaltedPassword(salted, salt: Array(buffer: upsertion.salt),
                                                                               iterations: Int(upsertion.iterations), mechanism: mechanism) else {
                    return Result(user: upsertion.name, errorCode: KafkaErrorCode.unacceptableCredential.rawValue,
                                  errorMessage: "The salt must not be empty and the salted password must be \(mechanism.digestSize) bytes")
                }
                changes[upsertion.name, default: []].append(.upsert(credential))
                return nil
            }
        }

        let valid = changes.filter { errors[$0.key] == nil }
        let current = await broker.metadata.current().scramCredentials
        for (user, userChanges) in valid {
            for case .delete(let mechanism) in userChanges where current[user]?[mechanism.name] == nil {
                errors[user] = (.resourceNotFound, "Attempt to delete a user credential that does not exist")
            }
        }
        let committed = valid.filter { errors[$0.key] == nil }
        if !committed.isEmpty {
            do {
                _ = try await broker.metadata.update { image in
                    for (user, userChanges) in committed {
                        var credentials = image.scramCredentials[user] ?? [:]
                        for change in userChanges {
                            switch change {
                            case .upsert(let credential): credentials[credential.mechanism.name] = StoredSCRAMCredential(credential)
                            case .delete(let mechanism): credentials[mechanism.name] = nil
                            }
                        }
                        image.scramCredentials[user] = credentials.isEmpty ? nil : credentials
                    }
                }
                broker.logger.info("SCRAM credentials changed", metadata: [
                    "principal": "\(context.principal)", "users": "\(committed.keys.sorted().joined(separator: ","))"])
                // One audit event per change: the user, the mechanism and (for an upsert) the iterations — no salt or key.
                for user in committed.keys.sorted() {
                    for change in committed[user]! {
                        let what = switch change {
                        case .upsert(let credential): "upsert \(credential.mechanism.name) credential of user \(user) (\(credential.iterations) iterations)"
                        case .delete(let mechanism): "delete \(mechanism.name) credential of user \(user)"
                        }
                        authorization.auditChange(.alter, .cluster, ResourcePattern.clusterName, action: "AlterUserScramCredentials \(what)")
                    }
                }
            } catch {
                broker.logger.error("cannot store SCRAM credentials: \(error)")
                for user in committed.keys { errors[user] = (.unknownServerError, "The credentials could not be stored") }
            }
        }
        return respond(users.map { user in
            if let (code, message) = errors[user] { return Result(user: user, errorCode: code.rawValue, errorMessage: message) }
            return Result(user: user, errorCode: 0, errorMessage: nil)
        })
    }

    /// Users in the order they first appear (deletions, then upsertions), once each.
    private func orderedUsers(_ request: AlterUserScramCredentialsRequest) -> [String] {
        var seen = Set<String>()
        return (request.deletions.map(\.name) + request.upsertions.map(\.name)).filter { seen.insert($0).inserted }
    }

    private func respond(_ results: [Result]) -> AlterUserScramCredentialsResponse {
        AlterUserScramCredentialsResponse(results: results)
    }

    func errorResponse(_ request: AlterUserScramCredentialsRequest, _ error: KafkaErrorCode) -> AlterUserScramCredentialsResponse {
        respond(orderedUsers(request).map { Result(user: $0, errorCode: error.rawValue, errorMessage: nil) })
    }
}

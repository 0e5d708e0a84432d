import KafkaProtocol
import RampartMetadata
import RampartSASL

/// DescribeUserScramCredentials (key 50): the mechanisms and iteration counts of users' SCRAM
/// credentials (never salts or keys), for every user when none is named. Kafka requires Describe on
/// the Cluster (CLUSTER_AUTHORIZATION_FAILED; `super.users` have it).
struct DescribeUserScramCredentialsHandler: KafkaAPIHandler {
    typealias Request = DescribeUserScramCredentialsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...0

    func handle(_ request: DescribeUserScramCredentialsRequest, context: RequestContext) async -> DescribeUserScramCredentialsResponse? {
        guard broker.authorization(context).allowsCluster(.describe) else {
            return DescribeUserScramCredentialsResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue,
                                                        errorMessage: "Cluster authorization failed.")
        }
        let credentials = await broker.metadata.current().scramCredentials
        let names = request.users?.map(\.name) ?? []
        guard !names.isEmpty else {
            return DescribeUserScramCredentialsResponse(errorCode: 0, errorMessage: nil,
                                                        results: credentials.keys.sorted().map { result($0, credentials[$0]!) })
        }
        var counts: [String: Int] = [:]
        for name in names { counts[name, default: 0] += 1 }
        var seen = Set<String>()
        var results: [DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult] = []
        for name in names where seen.insert(name).inserted {
            if counts[name]! > 1 {
                results.append(.init(user: name, errorCode: KafkaErrorCode.duplicateResource.rawValue,
                                     errorMessage: "Cannot describe SCRAM credentials for the same user twice in a single request: \(name)"))
            } else if let stored = credentials[name] {
                results.append(result(name, stored))
            } else {
                results.append(.init(user: name, errorCode: KafkaErrorCode.resourceNotFound.rawValue,
                                     errorMessage: "Attempt to describe a user credential that does not exist: \(name)"))
            }
        }
        return DescribeUserScramCredentialsResponse(errorCode: 0, errorMessage: nil, results: results)
    }

    private func result(_ name: String, _ stored: [String: StoredSCRAMCredential]) -> DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult {
        .init(user: name, errorCode: 0, errorMessage: nil, credentialInfos: stored.keys.sorted().compactMap { mechanism in
            SCRAMMechanism(name: mechanism).map { .init(mechanism: $0.kafkaType, iterations: Int32(stored[mechanism]!.iterations)) }
        })
    }

    func errorResponse(_ request: DescribeUserScramCredentialsRequest, _ error: KafkaErrorCode) -> DescribeUserScramCredentialsResponse {
        DescribeUserScramCredentialsResponse(errorCode: error.rawValue, errorMessage: nil)
    }
}

extension SCRAMMechanism {
    /// Kafka's `ScramMechanism` type in the admin APIs: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (0 unknown).
    var kafkaType: Int8 { self == .sha256 ? 1 : 2 }

    init?(kafkaType: Int8) {
        switch kafkaType {
        case 1: self = .sha256
        case 2: self = .sha512
        default: return nil
        }
    }
}

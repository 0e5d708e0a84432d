import KafkaProtocol
import RampartAuthorizer

/// DeleteAcls (key 31): removes the dynamic ACLs matching each filter. Kafka requires Alter on the
/// Cluster (CLUSTER_AUTHORIZATION_FAILED for every filter). An ACL defined in a policy file matches like
/// any other but is not deleted: it is listed with INVALID_REQUEST and a message naming the file and
/// line that define it (edit the file to remove it). A filter with an UNKNOWN or undefined code is
/// INVALID_REQUEST. All deletions of a request are one atomic update of the metadata store.
struct DeleteAclsHandler: KafkaAPIHandler {
    typealias Request = DeleteAclsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...3

    func handle(_ request: DeleteAclsRequest, context: RequestContext) async -> DeleteAclsResponse? {
        let authorization = broker.authorization(context)
        guard authorization.allowsCluster(.alter) else {
            return errorResponse(request, .clusterAuthorizationFailed, RequestAuthorization.message(.clusterAuthorizationFailed))
        }
        // The ACLs in force when the request was authorized (policy files first, then dynamic).
        let acls = authorization.snapshot.bindings
        var filters: [Result<AclBindingFilter, AclValidationError>] = []
        var doomed: [AclBinding] = []
        for wire in request.filters {
            do {
                let filter = try AclBindingFilter(wire, apiVersion: context.apiVersion)
                filters.append(.success(filter))
                doomed += acls.filter { $0.source == .dynamic && filter.matches($0) }
            } catch {
                filters.append(.failure(error))
            }
        }
        var deleted = Set<AclRuleKey>()
        if !doomed.isEmpty {
            do {
                let removed = try await broker.deleteAcls(doomed)
                deleted = Set(removed.map(\.rule))
                authorization.recordAclChanges("deleted", removed)
            } catch {
                broker.logger.error("DeleteAcls: the metadata store refused the change: \(error)")
                return errorResponse(request, .unknownServerError, "The ACLs could not be deleted: \(error)")
            }
        }
        var reported = Set<AclRuleKey>()
        let results: [DeleteAclsResponse.DeleteAclsFilterResult] = filters.map { outcome in
            switch outcome {
            case .failure(let error):
                return .init(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: "Invalid ACL filter: \(error.message)")
            case .success(let filter):
                var matching: [DeleteAclsResponse.DeleteAclsMatchingAcl] = []
                for binding in acls where filter.matches(binding) {
                    switch binding.source {
                    case .dynamic:
                        // An ACL is reported once, by the first filter that deleted it (as Kafka does).
                        guard deleted.contains(binding.rule), reported.insert(binding.rule).inserted else { continue }
                        matching.append(Self.matchingAcl(binding, error: nil))
                    case .file:
                        matching.append(Self.matchingAcl(binding, error: "ACL \(binding.pattern) \(binding.entry) is defined in policy file \(binding.source) and cannot be deleted with DeleteAcls; remove it from the file"))
                    }
                }
                return .init(errorCode: 0, errorMessage: nil, matchingAcls: matching)
            }
        }
        return DeleteAclsResponse(filterResults: results)
    }

    private static func matchingAcl(_ binding: AclBinding, error: String?) -> DeleteAclsResponse.DeleteAclsMatchingAcl {
        .init(errorCode: error == nil ? 0 : KafkaErrorCode.invalidRequest.rawValue, errorMessage: error,
              resourceType: binding.pattern.resourceType.rawValue, resourceName: binding.pattern.name,
              patternType: binding.pattern.patternType.rawValue, principal: binding.entry.principal.description,
              host: binding.entry.host, operation: binding.entry.operation.rawValue, permissionType: binding.entry.permission.rawValue)
    }

    func errorResponse(_ request: DeleteAclsRequest, _ error: KafkaErrorCode) -> DeleteAclsResponse {
        errorResponse(request, error, nil)
    }

    private func errorResponse(_ request: DeleteAclsRequest, _ error: KafkaErrorCode, _ message: String?) -> DeleteAclsResponse {
        DeleteAclsResponse(filterResults: request.filters.map { _ in .init(errorCode: error.rawValue, errorMessage: message) })
    }
}

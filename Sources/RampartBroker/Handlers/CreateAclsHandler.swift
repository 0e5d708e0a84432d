import KafkaProtocol
import RampartAuthorizer

/// CreateAcls (key 30): adds dynamic ACLs, kept in the metadata store and in force for the next
/// request. Kafka requires Alter on the Cluster (CLUSTER_AUTHORIZATION_FAILED for every creation).
/// Each creation is validated on its own (INVALID_REQUEST naming what is wrong); the valid ones are
/// stored together in one atomic update. Creating an ACL that exists succeeds and changes nothing.
struct CreateAclsHandler: KafkaAPIHandler {
    typealias Request = CreateAclsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...3

    func handle(_ request: CreateAclsRequest, context: RequestContext) async -> CreateAclsResponse? {
        let authorization = broker.authorization(context)
        guard authorization.allowsCluster(.alter) else {
            return errorResponse(request, .clusterAuthorizationFailed, RequestAuthorization.message(.clusterAuthorizationFailed))
        }
        var results: [CreateAclsResponse.AclCreationResult] = []
        var valid: [AclBinding] = []
        for creation in request.creations {
            do {
                let binding = try AclBinding(
                    resourceType: creation.resourceType, resourceName: creation.resourceName,
                    patternType: context.apiVersion == 0 ? AclPatternType.literal.rawValue : creation.resourcePatternType,
                    principal: creation.principal, host: creation.host, operation: creation.operation, permission: creation.permissionType)
                valid.append(binding)
                results.append(.init(errorCode: 0, errorMessage: nil))
            } catch {
                results.append(.init(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: "Invalid ACL: \(error.message)"))
            }
        }
        guard !valid.isEmpty else { return CreateAclsResponse(results: results) }
        do {
            try await broker.createAcls(valid)
        } catch {
            broker.logger.error("CreateAcls: the metadata store refused the change: \(error)")
            for i in results.indices where results[i].errorCode == 0 {
                results[i] = .init(errorCode: KafkaErrorCode.unknownServerError.rawValue, errorMessage: "The ACLs could not be stored: \(error)")
            }
            return CreateAclsResponse(results: results)
        }
        authorization.recordAclChanges("created", valid)
        return CreateAclsResponse(results: results)
    }

    func errorResponse(_ request: CreateAclsRequest, _ error: KafkaErrorCode) -> CreateAclsResponse {
        errorResponse(request, error, nil)
    }

    private func errorResponse(_ request: CreateAclsRequest, _ error: KafkaErrorCode, _ message: String?) -> CreateAclsResponse {
        CreateAclsResponse(results: request.creations.map { _ in .init(errorCode: error.rawValue, errorMessage: message) })
    }
}

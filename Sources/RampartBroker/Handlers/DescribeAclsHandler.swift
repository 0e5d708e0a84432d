import KafkaProtocol
import RampartAuthorizer

/// DescribeAcls (key 29): the ACLs in force that match a filter — both those from policy files and the
/// dynamic ones — grouped by resource pattern. Kafka requires Describe on the Cluster
/// (CLUSTER_AUTHORIZATION_FAILED). A filter with an UNKNOWN or undefined code is INVALID_REQUEST.
/// Version 0 knows only LITERAL patterns: it filters LITERAL and lists only LITERAL ACLs.
struct DescribeAclsHandler: KafkaAPIHandler {
    typealias Request = DescribeAclsRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...3

    func handle(_ request: DescribeAclsRequest, context: RequestContext) async -> DescribeAclsResponse? {
        let authorization = broker.authorization(context)
        guard authorization.allowsCluster(.describe) else {
            return DescribeAclsResponse(errorCode: KafkaErrorCode.clusterAuthorizationFailed.rawValue,
                                        errorMessage: RequestAuthorization.message(.clusterAuthorizationFailed))
        }
        let filter: AclBindingFilter
        do {
            filter = try AclBindingFilter(request, apiVersion: context.apiVersion)
        } catch {
            return DescribeAclsResponse(errorCode: KafkaErrorCode.invalidRequest.rawValue, errorMessage: "Invalid ACL filter: \(error.message)")
        }
        var order: [ResourcePattern] = []
        var byPattern: [ResourcePattern: [DescribeAclsResponse.AclDescription]] = [:]
        var seen = Set<AclRuleKey>()
        for binding in authorization.snapshot.bindings where filter.matches(binding) && seen.insert(binding.rule).inserted {
            if byPattern[binding.pattern] == nil { order.append(binding.pattern) }
            byPattern[binding.pattern, default: []].append(.init(
                principal: binding.entry.principal.description, host: binding.entry.host,
                operation: binding.entry.operation.rawValue, permissionType: binding.entry.permission.rawValue))
        }
        return DescribeAclsResponse(errorCode: 0, errorMessage: nil, resources: order.map { pattern in
            .init(resourceType: pattern.resourceType.rawValue, resourceName: pattern.name, patternType: pattern.patternType.rawValue,
                  acls: byPattern[pattern]!)
        })
    }

    func errorResponse(_ request: DescribeAclsRequest, _ error: KafkaErrorCode) -> DescribeAclsResponse {
        DescribeAclsResponse(errorCode: error.rawValue, errorMessage: nil)
    }
}

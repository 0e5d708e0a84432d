import KafkaProtocol

/// DescribeCluster (key 60): this node, with its address on the listener the request came in on, the
/// cluster id and the controller (this node). Like Kafka, any principal may describe the cluster; the
/// authorized operations (when asked) are the principal's on the Cluster if it may Describe it, else 0.
/// v1 `endpointType`: brokers (1) are served; controllers (2) are MISMATCHED_ENDPOINT_TYPE, others
/// UNSUPPORTED_ENDPOINT_TYPE.
struct DescribeClusterHandler: KafkaAPIHandler {
    typealias Request = DescribeClusterRequest
    let broker: Broker
    let supportedVersions: ClosedRange<Int16> = 0...1

    func handle(_ request: DescribeClusterRequest, context: RequestContext) async -> DescribeClusterResponse? {
        if context.apiVersion >= 1 && request.endpointType != 1 {
            let code: KafkaErrorCode = request.endpointType == 2 ? .mismatchedEndpointType : .unsupportedEndpointType
            return DescribeClusterResponse(errorCode: code.rawValue, errorMessage: "This node serves brokers endpoints only (endpoint type 1).",
                                           endpointType: request.endpointType)
        }
        let image = await broker.metadata.current()
        var response = DescribeClusterResponse(errorCode: 0, errorMessage: nil, endpointType: 1, clusterId: image.clusterID,
                                               controllerId: broker.settings.nodeID)
        if let listener = broker.advertised(for: context.listenerName) {
            response.brokers = [.init(brokerId: broker.settings.nodeID, host: listener.host, port: listener.port, rack: nil)]
        }
        if request.includeClusterAuthorizedOperations {
            let authorization = broker.authorization(context)
            response.clusterAuthorizedOperations = authorization.allowsCluster(.describe)
                ? authorization.operationBits(.cluster, ResourcePattern.clusterName) : 0
        } else {
            response.clusterAuthorizedOperations = Int32.min
        }
        return response
    }

    func errorResponse(_ request: DescribeClusterRequest, _ error: KafkaErrorCode) -> DescribeClusterResponse {
        DescribeClusterResponse(errorCode: error.rawValue, errorMessage: nil)
    }
}

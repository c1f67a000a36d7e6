/// Every method the worker serves: the one list to extend when adding a method (its type says how it is
/// scheduled). `OpenRPCTests` checks it against protocol/openrpc.json.
enum MethodRegistry {
    static let all: [AnyRPCMethod] = [
        AnyRPCMethod(ConfigureMethod()), AnyRPCMethod(ChatMethod()), AnyRPCMethod(ChatStreamMethod()),
        AnyRPCMethod(ListModelsMethod()), AnyRPCMethod(CancelMethod()), AnyRPCMethod(ProbeMethod()),
        AnyRPCMethod(PingMethod()), AnyRPCMethod(ShutdownMethod()), AnyRPCMethod(DiscoverMethod()),
        AnyRPCMethod(WarmMethod()),
    ]

    static let byName: [String: AnyRPCMethod] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}

public enum WorkerVersion {
    /// The one place the version is written; `--version`, `ping` and `rpc.discover` all read it.
    public static let current = "0.3.0"
    /// Bumped only when a change would break a client written against the previous version.
    public static let protocolVersion = "1.0.0"
}

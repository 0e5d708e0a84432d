import Logging
import RampartAuthorizer

extension BrokerServer {
    /// The authorizer settings from `server.properties` (validated by `BrokerConfig`).
    static func authorizerConfig(_ config: BrokerConfig) -> AuthorizerConfig {
        AuthorizerConfig(
            enabled: config.bool("rampart.authorizer.enabled"),
            superUsers: (try? AuthorizerConfig.parseSuperUsers(config.string("super.users") ?? "")) ?? [],
            allowEveryoneIfNoAclFound: config.bool("allow.everyone.if.no.acl.found"),
            shadow: config.string("rampart.authorizer.mode") == "shadow")
    }

    /// Builds the authorizer and loads `rampart.acl.policy.path`; a policy that does not load stops
    /// start-up with the file, line and reason.
    func makeAuthorizer() throws -> (Authorizer, PolicyWatcher?) {
        let settings = Self.authorizerConfig(config)
        let authorizer = Authorizer(config: settings)
        if let className = config.explicit["authorizer.class.name"] {
            logger.notice("authorizer.class.name=\(className) is accepted for compatibility; Rampart's ACL authorizer is used (rampart.authorizer.enabled=\(settings.enabled))")
        }
        var watcher: PolicyWatcher?
        if let path = config.string("rampart.acl.policy.path") {
            do {
                watcher = try PolicyWatcher(path: path, authorizer: authorizer)
            } catch {
                throw StartupError(description: "rampart.acl.policy.path: \(error)")
            }
        }
        if let auditPath = config.string("rampart.audit.log.path") {
            do {
                let auditLogger = logger
                let audit = try AuditLog(path: auditPath) { problem in auditLogger.error("\(problem)") }
                authorizer.setAuditSink(audit)
                auditLog = audit
                logger.info("audit log", metadata: ["path": "\(auditPath)"])
            } catch {
                throw StartupError(description: "rampart.audit.log.path: \(error)")
            }
        }
        let snapshot = authorizer.snapshot
        guard settings.enabled else {
            logger.warning("the authorizer is disabled (rampart.authorizer.enabled=false): every request of every client is allowed")
            return (authorizer, watcher)
        }
        logger.info("authorizer enabled", metadata: [
            "acls": "\(snapshot.bindings.count)", "policy": "\(watcher?.path ?? "none")", "fingerprint": "\(snapshot.fingerprint)",
            "superUsers": "\(settings.superUsers.map(\.description).joined(separator: ";"))",
            "allowEveryoneIfNoAclFound": "\(settings.allowEveryoneIfNoAclFound)",
        ])
        if settings.shadow {
            logger.warning("rampart.authorizer.mode=shadow: requests the ACLs deny are logged and audited but SERVED (use enforce once the policy is right)")
        }
        if settings.allowEveryoneIfNoAclFound {
            logger.warning("allow.everyone.if.no.acl.found=true: every principal may use any resource no ACL mentions (rampart.insecure.allow.everyone=true)")
        }
        if settings.superUsers.isEmpty && snapshot.bindings.isEmpty && !settings.allowEveryoneIfNoAclFound {
            logger.warning("the authorizer is on and nothing is granted: every request will be denied (set super.users, or grant ACLs in rampart.acl.policy.path)")
        }
        return (authorizer, watcher)
    }

    /// Checks the policy files: a change that stayed stable for one poll (or any state, with `force`,
    /// as on SIGHUP) is loaded and swapped in; a refused policy keeps the previous one and is logged as
    /// an error. Reads files: call it off the event loops.
    public func reloadPolicy(force: Bool) {
        guard let watcher = policyWatcher else { return }
        switch watcher.poll(force: force) {
        case .unchanged, .pending:
            break
        case .reloaded(let count):
            Self.countPolicyReload(success: true)
            let fingerprint = broker?.authorizer.snapshot.fingerprint ?? "?"
            logger.info("ACL policy reloaded", metadata: ["path": "\(watcher.path)", "acls": "\(count)", "fingerprint": "\(fingerprint)"])
        case .failed(let error):
            Self.countPolicyReload(success: false)
            logger.error("ACL policy change refused, the previous policy stays in force: \(error)", metadata: [
                "refusedReloads": "\(watcher.reloadCounts.failed)",
            ])
        }
    }

    /// Policy reloads applied and refused since start-up.
    public var policyReloadCounts: (succeeded: Int, failed: Int) { policyWatcher?.reloadCounts ?? (0, 0) }
}

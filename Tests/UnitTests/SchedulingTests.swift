import XCTest
@testable import LLMWorker

/// The scheduling decision, as a request and as a notification, before and during the shutdown: the table the
/// dispatcher follows for a message alone and inside a batch. The table has the methods that declare traits of
/// their own; the others (listModels, probe, warm) are scheduled as a method with the default traits.
final class SchedulingTests: XCTestCase {
    private typealias Row = (method: String, request: Scheduling, notification: Scheduling,
                             requestShuttingDown: Scheduling, notificationShuttingDown: Scheduling)

    private let table: [Row] = [
        ("configure", .inline, .inline, .inline, .inline),
        ("cancel", .inline, .inline, .inline, .inline),
        ("ping", .task, .drop, .task, .drop),
        ("rpc.discover", .task, .drop, .refuse, .drop),
        ("chat", .task, .dropWithWarning, .refuse, .dropWithWarning),
        ("chatStream", .task, .dropWithWarning, .refuse, .dropWithWarning),
        ("shutdown", .task, .task, .refuse, .refuse),
        // An unknown method: its task answers method-not-found, whether or not the worker is shutting down.
        ("no.such.method", .task, .drop, .task, .drop),
    ]

    private func decide(_ name: String, notification: Bool, shuttingDown: Bool) -> Scheduling {
        Scheduling.decide(MethodRegistry.byName[name]?.traits, isNotification: notification, shuttingDown: shuttingDown)
    }

    func testEachMethodIsScheduledAsTheTableSays() {
        for row in table {
            XCTAssertEqual(decide(row.method, notification: false, shuttingDown: false), row.request, row.method)
            XCTAssertEqual(decide(row.method, notification: true, shuttingDown: false), row.notification, row.method)
            XCTAssertEqual(decide(row.method, notification: false, shuttingDown: true), row.requestShuttingDown, row.method)
            XCTAssertEqual(decide(row.method, notification: true, shuttingDown: true), row.notificationShuttingDown, row.method)
        }
    }

    /// A method that declares a trait of its own has its row in the table; one without is scheduled by the defaults.
    func testEveryMethodOutsideTheTableHasTheDefaultTraits() {
        let inTable = Set(table.map(\.method))
        let outside = MethodRegistry.all.filter { !inTable.contains($0.name) }
        XCTAssertFalse(outside.isEmpty, "the defaults are checked on the methods that keep them")
        for method in outside {
            XCTAssertEqual(method.traits, AnyRPCMethod(PlainMethod()).traits, "\(method.name) declares a trait: add its row to the table")
        }
    }

    func testOnlyShutdownIsNotCancellableAndStartsTheShutdownWhenRead() {
        for method in MethodRegistry.all {
            XCTAssertEqual(method.traits.isCancellable, method.name != "shutdown", method.name)
            XCTAssertEqual(method.traits.shutsDownWhenRead, method.name == "shutdown", method.name)
        }
    }

    /// A method that declares no trait runs in a task, as a notification too, and is refused once shutting down.
    func testAMethodWithTheDefaultTraits() {
        let traits = AnyRPCMethod(PlainMethod()).traits
        XCTAssertEqual(traits, MethodTraits(PlainMethod.self, runsInline: false))
        XCTAssertEqual(Scheduling.decide(traits, isNotification: false, shuttingDown: false), .task)
        XCTAssertEqual(Scheduling.decide(traits, isNotification: true, shuttingDown: false), .task)
        XCTAssertEqual(Scheduling.decide(traits, isNotification: false, shuttingDown: true), .refuse)
        XCTAssertEqual(Scheduling.decide(traits, isNotification: true, shuttingDown: true), .refuse)
        XCTAssertTrue(traits.isCancellable)
        XCTAssertFalse(traits.shutsDownWhenRead)
    }

    private struct PlainMethod: AsyncRPCMethod {
        static let name = "plain"
        func handle(_ params: NoParams, request: RequestContext) async throws -> [String: Bool] { ["ok": true] }
    }
}

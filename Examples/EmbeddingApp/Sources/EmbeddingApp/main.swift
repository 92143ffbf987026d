import EdgeHALKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Loads the default model through the app API, streams 16 tokens on the CPU backend and on the
// reference, cancels a stream midway and checks the session is usable after it. With `--parallel`
// it runs two sessions of one model at once (what scripts/embedding-app.sh runs under
// ThreadSanitizer). Exits non-zero when anything is off.

func fail(_ message: String) -> Never {
    print("embedding-app: FAILED: \(message)")
    exit(1)
}

func stream(_ session: Session, _ prompt: String, _ n: Int) async throws -> [GeneratedPiece] {
    var pieces: [GeneratedPiece] = []
    for try await piece in session.generate(prompt, GenerationOptions(maxTokens: n)) { pieces.append(piece) }
    return pieces
}

let prompt = "The capital of France is"
let arguments = CommandLine.arguments.dropFirst()
let model = try await Model.load()

if arguments.contains("--parallel") {
    let sessions = try [model.session(backend: .cpu), model.session(backend: .cpu)]
    let alone = try await stream(try model.session(backend: .cpu), prompt, 8).map(\.token)
    let together = try await withThrowingTaskGroup(of: [Int32].self) { group in
        for session in sessions { group.addTask { try await stream(session, prompt, 8).map(\.token) } }
        var all: [[Int32]] = []
        for try await tokens in group { all.append(tokens) }
        return all
    }
    guard together.allSatisfy({ $0 == alone }) else { fail("parallel sessions disagree: \(together) vs \(alone)") }
    print("parallel: 2 sessions, 8 tokens each, as one session alone")
    exit(0)
}

for backend in [BackendChoice.cpu, .reference] {
    let session = try model.session(backend: backend)
    let pieces = try await stream(session, prompt, 16)
    guard pieces.count == 16 else { fail("\(backend): \(pieces.count) tokens, not 16") }
    print("\(backend): \(prompt)\(pieces.map(\.text).joined())")
}

let session = try model.session(backend: .cpu)
var seen = 0
for try await _ in session.generate(prompt, GenerationOptions(maxTokens: 500)) {
    seen += 1
    if seen == 3 { break }   // leaving the loop cancels generation
}
let stopped = await session.position
guard stopped < 500 else { fail("generation ran on after cancel (position \(stopped))") }
try await session.reset()
let after = try await stream(session, prompt, 4)
guard after.count == 4 else { fail("session unusable after cancel") }
print("cancel: stopped after \(seen) tokens at position \(stopped); afterwards: \(after.map(\.text).joined())")

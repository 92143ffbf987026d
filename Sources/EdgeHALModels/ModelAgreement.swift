import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The end-to-end conformance case: a backend runs a real model over a fixed text and is compared
/// with the reference backend position by position — top-1 agreement and KL(reference ‖ backend).
public struct ModelAgreement: Sendable, Codable {
    public var positions: Int
    /// Fraction of positions whose argmax token equals the reference's.
    public var top1: Double
    public var meanKL: Double
    public var maxKL: Double
    public var milliseconds: Double

    /// At least this share of positions must pick the reference's top token.
    public static let minimumTop1 = 0.99
    /// Bound on the mean KL divergence (nats). 8-bit activation rounding, as llama.cpp's CPU path
    /// does, gives ≈ 1e-3 on SmolLM2; a wrong op gives ≥ 0.1.
    public static let maximumMeanKL = 0.02

    public var passes: Bool { top1 >= Self.minimumTop1 && meanKL <= Self.maximumMeanKL }

    /// A fixed English paragraph: ordinary text the model predicts with confidence.
    public static let text = """
    The history of computing is a story of machines that grew smaller, faster and cheaper. Early computers \
    filled whole rooms and used vacuum tubes that failed often. The transistor changed everything: it was \
    small, reliable and used little power. Integrated circuits then put many transistors on one chip, and \
    engineers learned to double their number every two years. Today a phone holds more computing power than \
    all the computers of the nineteen sixties together.
    """

    /// Evaluates `tokens` (all logits) with `device` and with `reference`, and compares them.
    public static func measure(model: LlamaModel, tokens: [Int32], device: [any Device], reference: [any Device]) throws -> ModelAgreement {
        let context = tokens.count
        let expected = try LlamaSession(model: model, devices: reference, contextLength: context, batchSize: context)
            .evaluate(tokens, allLogits: true)
        let session = LlamaSession(model: model, devices: device, contextLength: context, batchSize: context)
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let start = Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        let actual = try session.evaluate(tokens, allLogits: true)
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let ms = (Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 - start) * 1000
        let v = model.config.vocabulary
        var agree = 0, klSum = 0.0, klMax = 0.0
        for p in 0..<context {
            let e = expected[(p * v)..<((p + 1) * v)], a = actual[(p * v)..<((p + 1) * v)]
            if Sampler.argmax(Array(e)) == Sampler.argmax(Array(a)) { agree += 1 }
            let kl = klDivergence(Array(e), Array(a))
            klSum += kl
            klMax = max(klMax, kl)
        }
        return ModelAgreement(positions: context, top1: Double(agree) / Double(context), meanKL: klSum / Double(context),
                              maxKL: klMax, milliseconds: ms)
    }

    /// KL(softmax(p) ‖ softmax(q)) in nats; infinite when q has non-finite logits.
    static func klDivergence(_ p: [Float], _ q: [Float]) -> Double {
        guard q.allSatisfy(\.isFinite) else { return .infinity }
        func logSoftmax(_ x: [Float]) -> [Double] {
            let m = Double(x.max()!)
            let lse = log(x.reduce(0.0) { $0 + exp(Double($1) - m) }) + m
            return x.map { Double($0) - lse }
        }
        let lp = logSoftmax(p), lq = logSoftmax(q)
        return zip(lp, lq).reduce(0.0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }
}

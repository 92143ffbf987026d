import EdgeHAL
import EdgeHALModels

extension ModelSession {
    /// Greedy decoding as llama.cpp's golden runs do it: the prompt, then argmax tokens one at a time,
    /// up to `n` or the first end-of-generation token (included).
    func greedy(_ ids: [Int32], _ n: Int, tokenizer: Tokenizer) throws -> [Int32] {
        var logits = try evaluate(ids)
        var out: [Int32] = []
        while out.count < n {
            let next = Sampler.argmax(logits)
            out.append(next)
            if tokenizer.isEndOfGeneration(next) { break }
            logits = try evaluate([next])
        }
        return out
    }
}

package dev.qncd.models.cond;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qncd.core.QncdException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's byte-level BPE tokenizer with the padding Stable Diffusion v1 uses: HuggingFace's
 * {@code CLIPTokenizer} called as {@code FrozenCLIPEmbedder} calls it ({@code truncation=True,
 * max_length=77, padding="max_length"}).
 *
 * <ol>
 *   <li>clean: {@link ClipTextCleaner#clean} (ftfy's fixes, whitespace runs to one space, lower case);
 *   <li>split with CLIP's regex {@code <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+};
 *   <li>map each piece's UTF-8 bytes to printable characters ({@code bytes_to_unicode}), mark the last
 *       character with {@code </w>} and apply the BPE merges by rank, lowest first;
 *   <li>look the pieces up in the vocabulary (an unknown piece becomes {@code <|endoftext|>}, HF's unk);
 *   <li>{@code [<|startoftext|>] + ids[:75] + [<|endoftext|>]}, padded to 77 with the pad token: HF's
 *       default for CLIP, {@code <|endoftext|>}, unless the tokenizer folder's
 *       {@code special_tokens_map.json} or {@code tokenizer_config.json} names another.
 * </ol>
 *
 * <p>Vocabularies: a HuggingFace tokenizer folder ({@code vocab.json} + {@code merges.txt}, e.g. the
 * {@code tokenizer/} of {@code openai/clip-vit-large-patch14}) or openai/CLIP's
 * {@code bpe_simple_vocab_16e6.txt.gz} (the vocabulary is then built as openai's {@code SimpleTokenizer}
 * builds it, which gives the same ids). As both references, only the first 48894 merges count.
 * Thread-safe.
 */
public final class ClipTokenizer {
    /** The start token. */
    public static final String START = "<|startoftext|>";
    /** The end token, also HF's default pad and unknown token for CLIP. */
    public static final String END = "<|endoftext|>";
    /** Stable Diffusion's {@code max_length}: CLIP's context length. */
    public static final int CONTEXT_LENGTH = 77;
    /** The merges both references use: lines 1 .. 49152 − 256 − 2 of the merges file. */
    static final int MAX_MERGES = 49152 - 256 - 2;

    private static final Pattern SPLIT = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
    private static final String[] BYTE_ENCODER = bytesToUnicode();

    private final Map<String, Integer> encoder;
    private final Map<String, Integer> ranks;
    private final List<String[]> mergeList;
    private final int startId;
    private final int endId;
    private final int padId;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> encoder, List<String[]> merges, String source) {
        this(encoder, merges, source, END);
    }

    private ClipTokenizer(Map<String, Integer> encoder, List<String[]> merges, String source, String padToken) {
        this.encoder = encoder;
        this.mergeList = merges;
        this.ranks = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            String[] m = merges.get(i);
            if (m.length == 2) {
                ranks.put(m[0] + ' ' + m[1], i); // dict(zip(...)): a repeated pair keeps its last rank
            }
        }
        Integer s = encoder.get(START);
        Integer e = encoder.get(END);
        if (s == null || e == null) {
            throw new QncdException(source + " has no " + (s == null ? START : END) + " token: pass CLIP's vocabulary");
        }
        this.startId = s;
        this.endId = e;
        Integer pad = encoder.get(padToken);
        if (pad == null) {
            throw new QncdException(source + ": the pad token '" + padToken + "' is not in the vocabulary");
        }
        this.padId = pad;
        cache.put(START, new String[] {START});
        cache.put(END, new String[] {END});
    }

    /**
     * @param path a HuggingFace tokenizer folder (with {@code vocab.json} and {@code merges.txt}), or
     *     openai/CLIP's {@code bpe_simple_vocab_16e6.txt.gz}
     * @return the tokenizer
     * @throws IOException when a file cannot be read
     * @throws QncdException when the path holds neither
     */
    public static ClipTokenizer load(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path vocab = path.resolve("vocab.json");
            Path merges = path.resolve("merges.txt");
            if (!Files.isRegularFile(vocab) || !Files.isRegularFile(merges)) {
                throw new QncdException(path + " lacks vocab.json or merges.txt: pass the tokenizer folder of"
                        + " openai/clip-vit-large-patch14 (or the tokenizer/ folder of a Stable Diffusion v1 repo), or"
                        + " openai/CLIP's bpe_simple_vocab_16e6.txt.gz");
            }
            ClipTokenizer t = fromVocabAndMerges(vocab, merges);
            String pad = padToken(path);
            return pad.equals(END) ? t : new ClipTokenizer(t.encoder, t.mergeList, path.toString(), pad);
        }
        if (!Files.isRegularFile(path)) {
            throw new QncdException(path + ": no such tokenizer file or folder");
        }
        return fromBpeGz(path);
    }

    /**
     * @param vocabJson {@code vocab.json}: token to id
     * @param mergesTxt {@code merges.txt}: a header line, then one merge ("a b") per line
     * @return the tokenizer
     * @throws IOException when a file cannot be read
     */
    public static ClipTokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt) throws IOException {
        Map<String, Integer> enc = new LinkedHashMap<>();
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(vocabJson.toFile());
        } catch (JsonProcessingException e) {
            throw new QncdException(vocabJson + " is not valid JSON (" + e.getOriginalMessage()
                    + "): pass CLIP's vocab.json", e);
        }
        if (root == null || !root.isObject()) {
            throw new QncdException(vocabJson + " is not a JSON object of token ids: pass CLIP's vocab.json");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt()) {
                throw new QncdException(vocabJson + ": the id of '" + e.getKey() + "' is not an integer");
            }
            enc.put(e.getKey(), e.getValue().asInt());
        }
        // HF: merges_handle.read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]
        String text = Files.readString(mergesTxt, StandardCharsets.UTF_8).strip();
        List<String> lines = Arrays.asList(text.split("\n", -1));
        return new ClipTokenizer(enc, merges(lines), vocabJson.getParent() == null ? vocabJson.toString()
                : vocabJson.getParent().toString());
    }

    /**
     * Builds the vocabulary as openai/CLIP's {@code SimpleTokenizer} does: the 256 byte characters, the
     * same with {@code </w>}, one token per merge, then the two special tokens.
     *
     * @param gz {@code bpe_simple_vocab_16e6.txt.gz}
     * @return the tokenizer
     * @throws IOException when the file cannot be read
     */
    public static ClipTokenizer fromBpeGz(Path gz) throws IOException {
        String text;
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.util.zip.ZipException e) {
            throw new QncdException(gz + " is not a gzip file: pass openai/CLIP's bpe_simple_vocab_16e6.txt.gz or a"
                    + " folder with vocab.json and merges.txt", e);
        }
        List<String[]> merges = merges(Arrays.asList(text.split("\n", -1)));
        Map<String, Integer> enc = new LinkedHashMap<>();
        for (String c : BYTE_ENCODER_ORDER) {
            enc.putIfAbsent(c, enc.size());
        }
        for (String c : BYTE_ENCODER_ORDER) {
            enc.putIfAbsent(c + "</w>", enc.size());
        }
        int next = enc.size();
        for (String[] m : merges) {
            enc.put(String.join("", m), next++); // a duplicate keeps the last id, as dict(zip(vocab, range))
        }
        enc.put(START, next++);
        enc.put(END, next);
        return new ClipTokenizer(enc, merges, gz.toString());
    }

    /**
     * The pad token a HuggingFace tokenizer folder declares ({@code pad_token} of
     * {@code special_tokens_map.json}, else of {@code tokenizer_config.json}), {@code <|endoftext|>} when
     * neither file names one (HF's default for CLIP).
     */
    private static String padToken(Path dir) throws IOException {
        for (String name : List.of("special_tokens_map.json", "tokenizer_config.json")) {
            Path f = dir.resolve(name);
            if (!Files.isRegularFile(f)) {
                continue;
            }
            JsonNode root;
            try {
                root = new ObjectMapper().readTree(f.toFile());
            } catch (JsonProcessingException e) {
                throw new QncdException(f + " is not valid JSON (" + e.getOriginalMessage() + ")", e);
            }
            JsonNode pad = root == null ? null : root.get("pad_token");
            if (pad != null && pad.isTextual()) {
                return pad.asText();
            }
            if (pad != null && pad.has("content")) {
                return pad.get("content").asText();
            }
        }
        return END;
    }

    private static List<String[]> merges(List<String> lines) {
        List<String[]> out = new ArrayList<>();
        for (int i = 1; i < Math.min(lines.size(), MAX_MERGES + 1); i++) {
            String l = lines.get(i).strip();
            out.add(l.isEmpty() ? new String[0] : l.split("\\s+"));
        }
        return out;
    }

    /** The byte characters in openai's {@code bytes_to_unicode().values()} order. */
    private static final List<String> BYTE_ENCODER_ORDER = byteOrder();

    private static List<String> byteOrder() {
        List<String> out = new ArrayList<>();
        List<Integer> bs = printableBytes();
        for (int b : bs) {
            out.add(BYTE_ENCODER[b]);
        }
        for (int b = 0; b < 256; b++) {
            if (!bs.contains(b)) {
                out.add(BYTE_ENCODER[b]);
            }
        }
        return out;
    }

    private static List<Integer> printableBytes() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bs.add(b);
        }
        for (int b = 0xa1; b <= 0xac; b++) {
            bs.add(b);
        }
        for (int b = 0xae; b <= 0xff; b++) {
            bs.add(b);
        }
        return bs;
    }

    /** {@code bytes_to_unicode}: printable bytes map to themselves, the others to 256, 257, ... in byte order. */
    private static String[] bytesToUnicode() {
        List<Integer> bs = printableBytes();
        String[] out = new String[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            out[b] = bs.contains(b) ? String.valueOf((char) b) : String.valueOf((char) (256 + n++));
        }
        return out;
    }

    /**
     * The BPE pieces of a text, before the special tokens are added.
     *
     * @param text a prompt
     * @return the pieces, e.g. {@code [a</w>, photo</w>, of</w>, a</w>, cat</w>]}
     */
    public List<String> tokenize(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = SPLIT.matcher(ClipTextCleaner.clean(text));
        while (m.find()) {
            byte[] utf8 = m.group().getBytes(StandardCharsets.UTF_8);
            StringBuilder sb = new StringBuilder(utf8.length);
            for (byte b : utf8) {
                sb.append(BYTE_ENCODER[b & 0xff]);
            }
            out.addAll(Arrays.asList(bpe(sb.toString())));
        }
        return out;
    }

    /**
     * @param text a prompt
     * @return the ids of its pieces, without special tokens and untruncated
     */
    public int[] ids(String text) {
        List<String> pieces = tokenize(text);
        int[] out = new int[pieces.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = encoder.getOrDefault(pieces.get(i), endId);
        }
        return out;
    }

    /**
     * The 77 ids {@code FrozenCLIPEmbedder} gives the text model.
     *
     * @param text a prompt
     * @return {@code [start] + ids[:75] + [end]}, padded with {@code end} to 77
     */
    public long[] encode(String text) {
        int[] ids = ids(text);
        long[] out = new long[CONTEXT_LENGTH];
        Arrays.fill(out, padId);
        out[0] = startId;
        int n = Math.min(ids.length, CONTEXT_LENGTH - 2);
        for (int i = 0; i < n; i++) {
            out[i + 1] = ids[i];
        }
        out[n + 1] = endId;
        return out;
    }

    /**
     * @param texts prompts
     * @param manager owner of the result
     * @return (N, 77) int64 token ids
     */
    public NDArray encode(List<String> texts, NDManager manager) {
        long[] all = new long[texts.size() * CONTEXT_LENGTH];
        for (int i = 0; i < texts.size(); i++) {
            System.arraycopy(encode(texts.get(i)), 0, all, i * CONTEXT_LENGTH, CONTEXT_LENGTH);
        }
        return manager.create(all, new Shape(texts.size(), CONTEXT_LENGTH));
    }

    /** @return the id of {@code <|startoftext|>} (49406 in CLIP) */
    public int startId() {
        return startId;
    }

    /** @return the id of {@code <|endoftext|>} (49407 in CLIP) */
    public int endId() {
        return endId;
    }

    /** @return the padding id: {@code <|endoftext|>} unless the tokenizer folder names another pad token */
    public int padId() {
        return padId;
    }

    /** @return the vocabulary size (largest id + 1) */
    public int vocabSize() {
        int max = -1;
        for (int v : encoder.values()) {
            max = Math.max(max, v);
        }
        return max + 1;
    }

    private String[] bpe(String token) {
        String[] hit = cache.get(token);
        if (hit != null) {
            return hit;
        }
        List<String> word = new ArrayList<>();
        int[] cps = token.codePoints().toArray();
        for (int i = 0; i < cps.length; i++) {
            String c = new String(cps, i, 1);
            word.add(i == cps.length - 1 ? c + "</w>" : c);
        }
        while (word.size() > 1) {
            int best = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer r = ranks.get(word.get(i) + ' ' + word.get(i + 1));
                if (r != null && r < best) {
                    best = r;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size();) {
                if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i));
                    i++;
                }
            }
            word = merged;
        }
        String[] out = word.toArray(new String[0]);
        cache.put(token, out);
        return out;
    }
}

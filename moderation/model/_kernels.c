/* Compiled kernels, optional: TF-IDF rows of a large batch times the stacked head weights
 * (tfidf_product), raw tokens to unit ids from the token index (token_lookup), the bigram
 * columns' hash table (int_lookup) and py3langid's automaton walk (langid_visits). Each
 * returns what its NumPy/Python path returns.
 *
 * tfidf_product: the TF-IDF rows times the head weights in one compiled pass.
 *
 * Optional: ``moderation/model/features.py`` uses it when it was built (``setup.py``, a C
 * compiler at install time) and falls back to scipy's CSC build and product otherwise. It
 * computes exactly what that path computes, in the same order, so the results are the same
 * to the bit:
 *
 *   - the (document, column) n-gram entries are bucketed by column, documents in order
 *     within a column (a counting sort: scipy's COO to CSC does the same);
 *   - each distinct entry's value is float32 (log(count) + 1) * idf, log taken from a table
 *     NumPy's own float32 log filled (``logs[c - 1]`` = log(c));
 *   - each document's word and character block norms are float64 sums of the float32
 *     squares, column by column (``np.bincount`` over CSC order);
 *   - the block scales are float32 of 1 / norm and char_weight / norm (0 for an empty block);
 *   - the product adds float32 (value * scale) * weight into a float32 row, column by
 *     column (scipy's ``csc_matvecs``).
 *
 * Built with -ffp-contract=off: a fused multiply-add would round differently.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static int
product(int64_t n_docs, const int64_t *lengths, const int64_t *ids, int64_t n_table,
        const int64_t *char_ptr,
        const int32_t *chars, int64_t n_wentries, const int64_t *word_rows,
        const int64_t *word_cols, int64_t n_word, int64_t width, const float *idf,
        const float *logs, int64_t n_logs, double char_weight, const float *weights, int64_t k,
        float *out, float *word_scale, float *char_scale)
{
    int64_t total = n_wentries, u = 0;
    for (int64_t d = 0; d < n_docs; d++)
        for (int64_t end = u + lengths[d]; u < end; u++) {
            if (ids[u] < 0 || ids[u] >= n_table)
                return -4;
            total += char_ptr[ids[u] + 1] - char_ptr[ids[u]];
        }
    if (total >= INT32_MAX)
        return -2;
    for (int64_t i = 0; i < n_wentries; i++)
        if (word_cols[i] < 0 || word_cols[i] >= n_word || word_rows[i] < 0 || word_rows[i] >= n_docs)
            return -4;
    int32_t *cursor = calloc((size_t)width + 1, sizeof(int32_t));
    int32_t *rows = malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    float *values = malloc((size_t)(total ? total : 1) * sizeof(float));
    int32_t *columns = malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    double *norms = calloc((size_t)(2 * n_docs + 1), sizeof(double));
    int rc = 0;
    if (!cursor || !rows || !values || !columns || !norms) {
        rc = -1;
        goto done;
    }
    /* Count the entries of each column, then place them: words first, then characters
       document by document, so within a column the documents come in order. */
    for (int64_t i = 0; i < n_wentries; i++)
        cursor[word_cols[i] + 1]++;
    u = 0;
    for (int64_t d = 0; d < n_docs; d++)
        for (int64_t end = u + lengths[d]; u < end; u++) {
            const int32_t *c = chars + char_ptr[ids[u]], *last = chars + char_ptr[ids[u] + 1];
            for (; c < last; c++) {
                if (*c < 0 || *c >= width - n_word) {
                    rc = -4;
                    goto done;
                }
                cursor[n_word + *c + 1]++;
            }
        }
    for (int64_t j = 0; j < width; j++)
        cursor[j + 1] += cursor[j];
    for (int64_t i = 0; i < n_wentries; i++)
        rows[cursor[word_cols[i]]++] = (int32_t)word_rows[i];
    u = 0;
    for (int64_t d = 0; d < n_docs; d++)
        for (int64_t end = u + lengths[d]; u < end; u++) {
            const int32_t *c = chars + char_ptr[ids[u]], *last = chars + char_ptr[ids[u] + 1];
            for (; c < last; c++)
                rows[cursor[n_word + *c]++] = (int32_t)d;
        }
    /* Column j now spans [cursor[j - 1], cursor[j]). Repeated documents are merged into one
       entry with its value (kept in place), the block norms summed, and the columns with
       entries listed. */
    int64_t begin = 0, kept = 0, n_columns = 0;
    for (int64_t j = 0; j < width; j++) {
        int64_t end = cursor[j];
        double *block = norms + (j >= n_word);
        float idf_j = idf[j];
        for (int64_t i = begin; i < end;) {
            int32_t d = rows[i];
            int64_t first = i++;
            while (i < end && rows[i] == d)
                i++;
            int64_t count = i - first;
            if (count > n_logs) {
                rc = -3;
                goto done;
            }
            float value = logs[count - 1];
            value += 1.0f;
            value *= idf_j;
            float square = value * value;
            block[2 * d] += (double)square;
            rows[kept] = d;
            values[kept++] = value;
        }
        if (end > begin)
            columns[n_columns++] = (int32_t)j;
        cursor[j] = (int32_t)kept;
        begin = end;
    }
    for (int64_t d = 0; d < n_docs; d++) {
        double word = sqrt(norms[2 * d]), chr = sqrt(norms[2 * d + 1]);
        word_scale[d] = word > 0 ? (float)(1.0 / word) : 0.0f;
        char_scale[d] = chr > 0 ? (float)(char_weight / chr) : 0.0f;
    }
    /* The product, column by column; the weight row of a column a few ahead is fetched
       while this one is added (rows of a 30 MB table, in no cache otherwise). */
    int64_t i = 0;
    for (int64_t m = 0; m < n_columns; m++) {
        int64_t j = columns[m];
        if (m + 8 < n_columns)
            __builtin_prefetch(weights + (int64_t)columns[m + 8] * k);
        int64_t end = cursor[j];
        const float *restrict w = weights + j * k;
        const float *restrict scale = j >= n_word ? char_scale : word_scale;
        for (; i < end; i++) {
            int32_t d = rows[i];
            float a = values[i] * scale[d];
            float *restrict y = out + (int64_t)d * k;
            for (int64_t q = 0; q < k; q++)
                y[q] += a * w[q];
        }
    }
done:
    free(cursor);
    free(rows);
    free(values);
    free(columns);
    free(norms);
    return rc;
}

/* A contiguous buffer of n items of the given size (and writable when asked). */
static int
check(Py_buffer *view, Py_ssize_t itemsize, Py_ssize_t n, const char *name)
{
    if (view->itemsize != itemsize || view->len != n * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes", name, n, itemsize);
        return -1;
    }
    return 0;
}

static void
release(Py_buffer *views, int n)
{
    for (int i = 0; i < n; i++)
        if (views[i].obj != NULL)
            PyBuffer_Release(&views[i]);
}

static PyObject *
tfidf_product(PyObject *self, PyObject *args)
{
    Py_buffer b[12] = {{0}};
    long long n_word, width;
    double char_weight;
    PyObject *result = NULL;
    /* lengths, ids, char_ptr, chars, word_rows, word_cols, idf, logs, weights (read);
       out, word_scale, char_scale (written); then n_word, width, char_weight */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*w*w*w*LLd", &b[0], &b[1], &b[2], &b[3],
                          &b[4], &b[5], &b[6], &b[7], &b[8], &b[9], &b[10], &b[11], &n_word,
                          &width, &char_weight))
        return NULL;
    (void)self;
    Py_ssize_t n_docs = b[0].len / 8, n_units = b[1].len / 8, n_table = b[2].len / 8 - 1;
    int64_t units_listed = 0;
    Py_ssize_t n_w = b[4].len / 8, k = width > 0 ? b[8].len / 4 / width : 0;
    if (check(&b[0], 8, n_docs, "lengths") || check(&b[1], 8, n_units, "ids") ||
        check(&b[2], 8, n_table + 1, "char_ptr") || check(&b[3], 4, b[3].len / 4, "chars") ||
        check(&b[4], 8, n_w, "word_rows") || check(&b[5], 8, n_w, "word_cols") ||
        check(&b[6], 4, width, "idf") || check(&b[8], 4, width * k, "weights") ||
        check(&b[9], 4, n_docs * k, "out") || check(&b[10], 4, n_docs, "word_scale") ||
        check(&b[11], 4, n_docs, "char_scale"))
        goto done;
    for (Py_ssize_t d = 0; d < n_docs; d++)
        units_listed += ((const int64_t *)b[0].buf)[d];
    if (units_listed != n_units || n_word < 0 || n_word > width) {
        PyErr_SetString(PyExc_ValueError, "lengths do not add up to the unit ids given");
        goto done;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = product(n_docs, b[0].buf, b[1].buf, n_table, b[2].buf, b[3].buf, n_w, b[4].buf, b[5].buf,
                 n_word, width, b[6].buf, b[7].buf, b[7].len / 4, char_weight, b[8].buf, k,
                 b[9].buf, b[10].buf, b[11].buf);
    Py_END_ALLOW_THREADS
    if (rc == -1)
        PyErr_NoMemory();
    else
        result = PyLong_FromLong(rc);
done:
    release(b, 12);
    return result;
}


/* Unit ids of a batch's raw tokens from ``TokenIndex``'s table (token_index.py does the
 * same in NumPy): each token's polynomial hash of its code points (0 for tokens longer than
 * max_token, which are never indexed), linear probing from the slot its mixed hash picks,
 * the first entry with that hash confirmed code point by code point; -1 when not found. */
static PyObject *
token_lookup(PyObject *self, PyObject *args)
{
    Py_buffer b[12] = {{0}};
    unsigned long long mix;
    int bits, probes;
    PyObject *result = NULL;
    /* codes, begins, ends, slots, hashes, units, lengths, starts, stored codes, powers
       (read); found units, token hashes (written); mix, slot bits, probes */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*y*w*w*Kii", &b[0], &b[1], &b[2], &b[3],
                          &b[4], &b[5], &b[6], &b[7], &b[8], &b[9], &b[10], &b[11], &mix,
                          &bits, &probes))
        return NULL;
    (void)self;
    Py_ssize_t n_codes = b[0].len / 4, n = b[1].len / 8, n_slots = b[3].len / 4;
    Py_ssize_t n_entries = b[4].len / 8, n_stored = b[8].len / 4, max_token = b[9].len / 8;
    if (check(&b[0], 4, n_codes, "codes") || check(&b[1], 8, n, "begins") ||
        check(&b[2], 8, n, "ends") || check(&b[3], 4, n_slots, "slots") ||
        check(&b[4], 8, n_entries, "hashes") || check(&b[5], 8, n_entries, "units") ||
        check(&b[6], 8, n_entries, "lengths") || check(&b[7], 8, n_entries, "starts") ||
        check(&b[8], 4, n_stored, "stored codes") || check(&b[9], 8, max_token, "powers") ||
        check(&b[10], 8, n, "found") || check(&b[11], 8, n, "token hashes"))
        goto done;
    if (bits < 1 || bits > 62 || n_slots != ((Py_ssize_t)1 << bits)) {
        PyErr_SetString(PyExc_ValueError, "slot table size is not 2 ** bits");
        goto done;
    }
    const uint32_t *codes = b[0].buf, *stored_codes = b[8].buf;
    const int64_t *begins = b[1].buf, *ends = b[2].buf, *units = b[5].buf;
    const int64_t *lengths = b[6].buf, *starts = b[7].buf;
    const int32_t *slots = b[3].buf;
    const uint64_t *hashes = b[4].buf, *powers = b[9].buf;
    int64_t *found = b[10].buf;
    uint64_t *token_hashes = b[11].buf;
    for (Py_ssize_t t = 0; t < n; t++) {
        int64_t begin = begins[t], length = ends[t] - begin;
        if (begin < 0 || length < 0 || ends[t] > n_codes) {
            PyErr_SetString(PyExc_ValueError, "token bounds outside the code points");
            goto done;
        }
        found[t] = -1;
        if (length > max_token) {
            token_hashes[t] = 0;
            continue;
        }
        uint64_t h = 0;
        for (int64_t i = 0; i < length; i++)
            h += (uint64_t)codes[begin + i] * powers[i];
        token_hashes[t] = h;
        uint64_t slot = (h * (uint64_t)mix) >> (64 - bits);
        for (int p = 0; p < probes; p++) {
            int32_t entry = slots[slot];
            if (entry < 0 || entry >= n_entries)
                break;
            if (hashes[entry] == h) {
                int64_t start = starts[entry];
                if (lengths[entry] == length && start >= 0 && start + length <= n_stored) {
                    int64_t i = 0;
                    while (i < length && stored_codes[start + i] == codes[begin + i])
                        i++;
                    if (i == length)
                        found[t] = units[entry];
                }
                break;
            }
            slot = (slot + 1) & (uint64_t)(n_slots - 1);
        }
    }
    result = Py_NewRef(Py_None);
done:
    release(b, 12);
    return result;
}

/* ``IntTable.get`` (int_table.py): the value of each query key, -1 when absent; linear
 * probing from the slot the mixed key picks, over a table at most half full. */
static PyObject *
int_lookup(PyObject *self, PyObject *args)
{
    Py_buffer b[4] = {{0}};
    unsigned long long mix;
    int bits;
    PyObject *result = NULL;
    /* table keys, table values, queries (read); out (written); mix, slot bits */
    if (!PyArg_ParseTuple(args, "y*y*y*w*Ki", &b[0], &b[1], &b[2], &b[3], &mix, &bits))
        return NULL;
    (void)self;
    Py_ssize_t size = b[0].len / 8, n = b[2].len / 8;
    if (check(&b[0], 8, size, "keys") || check(&b[1], 8, size, "values") ||
        check(&b[2], 8, n, "queries") || check(&b[3], 8, n, "out"))
        goto done;
    if (bits < 1 || bits > 62 || size != ((Py_ssize_t)1 << bits)) {
        PyErr_SetString(PyExc_ValueError, "table size is not 2 ** bits");
        goto done;
    }
    const int64_t *keys = b[0].buf, *values = b[1].buf, *queries = b[2].buf;
    int64_t *out = b[3].buf;
    for (Py_ssize_t t = 0; t < n; t++) {
        int64_t query = queries[t];
        uint64_t slot = ((uint64_t)query * (uint64_t)mix) >> (64 - bits);
        out[t] = -1;
        for (Py_ssize_t p = 0; p < size; p++) {
            int64_t key = keys[slot];
            if (key == query) {
                out[t] = values[slot];
                break;
            }
            if (key < 0)
                break;
            slot = (slot + 1) & (uint64_t)(size - 1);
        }
    }
    result = Py_NewRef(Py_None);
done:
    release(b, 4);
    return result;
}

/* py3langid's ``visit_counts`` for many byte strings (langid_batch.py): each text walks the
 * byte automaton from state 0, and the features its states emit are counted, in the order
 * each is first seen in that text (a ``Counter``'s order). Writes every text's distinct
 * features and counts one text after another, and how many each text has. */
static PyObject *
langid_visits(PyObject *self, PyObject *args)
{
    Py_buffer b[8] = {{0}};
    PyObject *result = NULL;
    int32_t *last = NULL, *where = NULL;
    /* bytes, text ends, next state, row base, state output (read); features, counts,
       per-text feature counts (written) */
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*w*w*w*", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                          &b[6], &b[7]))
        return NULL;
    (void)self;
    Py_ssize_t n_bytes = b[0].len, n = b[1].len / 8, step = b[2].itemsize;
    Py_ssize_t n_next = step > 0 ? b[2].len / step : 0, n_states = b[4].len / 4;
    if (check(&b[1], 8, n, "ends") || check(&b[3], 8, n_states, "rowbase") ||
        check(&b[4], 4, n_states, "output") || check(&b[5], 4, n_bytes, "features") ||
        check(&b[6], 4, n_bytes, "counts") || check(&b[7], 8, n, "sizes"))
        goto done;
    if (step != 1 && step != 2 && step != 4) {
        PyErr_SetString(PyExc_ValueError, "next-state table of 1, 2 or 4 byte items expected");
        goto done;
    }
    const uint8_t *data = b[0].buf, *next8 = b[2].buf;
    const uint16_t *next16 = b[2].buf;
    const uint32_t *next32 = b[2].buf;
    const int64_t *ends = b[1].buf, *rowbase = b[3].buf;
    const int32_t *output = b[4].buf;
    int32_t *features = b[5].buf, *counts = b[6].buf;
    int64_t *sizes = b[7].buf;
    int32_t n_features = 0;
    for (Py_ssize_t s = 0; s < n_states; s++)
        if (output[s] >= n_features)
            n_features = output[s] + 1;
    last = malloc(((size_t)n_features + 1) * sizeof(int32_t));
    where = malloc(((size_t)n_features + 1) * sizeof(int32_t));
    if (!last || !where) {
        PyErr_NoMemory();
        goto done;
    }
    for (int32_t f = 0; f < n_features; f++)
        last[f] = -1;
    int64_t begin = 0, kept = 0;
    for (Py_ssize_t t = 0; t < n; t++) {
        int64_t end = ends[t], first = kept;
        if (end < begin || end > n_bytes) {
            PyErr_SetString(PyExc_ValueError, "text ends outside the bytes");
            goto done;
        }
        int64_t state = 0;
        for (int64_t i = begin; i < end; i++) {
            int64_t at = rowbase[state] + data[i];
            if (at < 0 || at >= n_next) {
                PyErr_SetString(PyExc_ValueError, "automaton step outside its table");
                goto done;
            }
            state = step == 2 ? next16[at] : step == 4 ? (int64_t)next32[at] : next8[at];
            if (state >= n_states) {
                PyErr_SetString(PyExc_ValueError, "automaton state outside its table");
                goto done;
            }
            int32_t f = output[state];
            if (f < 0)
                continue;
            if (last[f] != (int32_t)t) {
                last[f] = (int32_t)t;
                where[f] = (int32_t)kept;
                features[kept] = f;
                counts[kept++] = 1;
            } else
                counts[where[f]]++;
        }
        sizes[t] = kept - first;
        begin = end;
    }
    result = Py_NewRef(Py_None);
done:
    free(last);
    free(where);
    release(b, 8);
    return result;
}

static PyMethodDef methods[] = {
    {"tfidf_product", tfidf_product, METH_VARARGS,
     "TF-IDF rows of a batch times the head weights; 0, or a negative code when the caller "
     "must fall back (-2 too many entries, -3 a count past the log table, -4 an index out "
     "of range)."},
    {"token_lookup", token_lookup, METH_VARARGS,
     "Unit ids of raw tokens from TokenIndex's table (-1: not found), and their hashes."},
    {"int_lookup", int_lookup, METH_VARARGS,
     "IntTable.get: each query key's value in the table, -1 when absent."},
    {"langid_visits", langid_visits, METH_VARARGS,
     "py3langid's feature counts of many byte strings, each in first-seen order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__kernels(void)
{
    return PyModule_Create(&module);
}

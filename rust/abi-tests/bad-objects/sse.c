/* Bad kernel object: floating point compiles to SSE (xmm registers). */
double fm_bad_sse(double a, double b)
{
    return a * b + 1.0;
}

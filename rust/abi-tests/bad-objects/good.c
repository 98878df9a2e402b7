/* A good kernel object, built like kernel C: the checker must accept it (so the bad
 * objects fail for their defect, not for how the fixtures are built). */
int fm_good(int x)
{
    return x * 3 + 1;
}

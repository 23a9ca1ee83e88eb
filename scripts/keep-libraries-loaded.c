/* LD_PRELOADed by `make check-sanitizers` and `make check-valgrind`: dlclose keeps libraries
 * mapped. The Vulkan loader unloads drivers and layers at vkDestroyInstance; memory that only
 * their globals still point to would then count as leaked, with stacks that LeakSanitizer and
 * valgrind cannot even name. Kept loaded, that memory is reachable, and a real leak inside them
 * is reported with symbols. */
int dlclose(void *handle)
{
    (void)handle;
    return 0;
}

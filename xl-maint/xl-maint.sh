# Lets an administrator type `xl maint ...`: xl has no plug-in subcommands,
# so this shell function hands "maint" to xl-maint and the rest to xl.
xl() {
    if [ "$1" = maint ]; then
        shift
        command xl-maint "$@"
    else
        command xl "$@"
    fi
}

fn main() -> std::process::ExitCode {
    ike_sniff::cli::main()
}

from sigconv_cli.main import main_exit

main_exit()

from local.api_gateway.server import main

main()

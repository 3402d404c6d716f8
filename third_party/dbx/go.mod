module github.com/pocketbase/dbx

go 1.13

require (
	github.com/go-sql-driver/mysql v1.4.1
	github.com/stretchr/testify v1.4.0
	google.golang.org/appengine v1.6.5 // indirect
)

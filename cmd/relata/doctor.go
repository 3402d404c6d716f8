package main

import "github.com/pocketbase/pocketbase"

func registerDoctor(app *pocketbase.PocketBase) {}

select * from inventory

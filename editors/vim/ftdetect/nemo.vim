au BufRead,BufNewFile *.nemo setfiletype nemo
